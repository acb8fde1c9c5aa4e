//! Administering budget codes: what a valid code is, which code may take
//! over from one being deactivated, and how money reads on the page.
//!
//! # Rights
//! Budget codes belong to the company, not to a user, group or code holder,
//! so only rights with the `ANY` qualifier cover them (as for key pairs);
//! `Rights::may(Resource::Budget, ..)` answers: `BUDGET Access` shows the
//! page (the CSR role has it), `BUDGET Configure` adds, edits, deactivates
//! and reactivates. PRODUCT names no `BUDGET` actions; `Configure` is what
//! `access.rs` offers for "change", and Admin's `ANY ANY` covers both.
//!
//! # The form
//! Every field is checked and every problem reported at its field at once.
//! Quotas are money: plain decimal amounts with at most two decimals
//! (`NUMERIC(14, 2)`, whole cents), no sign, no exponent, optional `$` and
//! thousands commas as people type them. "-1", "abc" and "1e400" are refused
//! with a message saying why. A soft quota equal to the hard quota is allowed
//! (the alarm goes straight to hard); above it is refused at the soft quota.
//!
//! # Deactivation
//! A code is deactivated only with a replacement: another active code of the
//! same company. Everything billed to the old code moves to it (servers,
//! image records, the users who hold it), so nothing is left billed to a code
//! nobody can choose.

use std::str::FromStr;

use bigdecimal::{BigDecimal, RoundingMode, Signed};

use super::ValidationError;

/// The largest amount `NUMERIC(14, 2)` holds.
const MAX_QUOTA: &str = "999999999999.99";
const NAME_MAX: usize = 100;
const FINANCE_CODE_MAX: usize = 64;
const DESCRIPTION_MAX: usize = 1000;

/// The budget code form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawBudgetCode<'a> {
    pub name: &'a str,
    pub finance_code: &'a str,
    pub description: &'a str,
    pub soft_quota: &'a str,
    pub hard_quota: &'a str,
}

/// A valid budget code, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetCodeInput {
    pub name: String,
    pub finance_code: String,
    pub description: String,
    pub soft_quota: BigDecimal,
    pub hard_quota: BigDecimal,
}

/// Reads the form; every field's problem at once, in form order.
pub fn parse(raw: &RawBudgetCode<'_>) -> Result<BudgetCodeInput, Vec<ValidationError>> {
    let name = text("name", "name", raw.name, NAME_MAX, true).map(|name| super::text::canonical_name(&name));
    let finance_code = text("finance_code", "finance code", raw.finance_code, FINANCE_CODE_MAX, true);
    let description = description(raw.description);
    let soft = money("soft_quota", "soft quota", raw.soft_quota);
    let hard = money("hard_quota", "hard quota", raw.hard_quota);
    let soft = match (soft, &hard) {
        (Ok(soft), Ok(hard)) if soft > *hard => Err(ValidationError::new(
            "soft_quota",
            format!(
                "The soft quota ({}) cannot be above the hard quota ({}): the warning must come first.",
                format_money(&soft),
                format_money(hard)
            ),
        )),
        (soft, _) => soft,
    };
    match (name, finance_code, description, soft, hard) {
        (Ok(name), Ok(finance_code), Ok(description), Ok(soft_quota), Ok(hard_quota)) => {
            Ok(BudgetCodeInput { name, finance_code, description, soft_quota, hard_quota })
        }
        (name, finance_code, description, soft, hard) => {
            Err([name.err(), finance_code.err(), description.err(), soft.err(), hard.err()]
                .into_iter()
                .flatten()
                .collect())
        }
    }
}

fn text(field: &'static str, what: &str, raw: &str, max: usize, required: bool) -> Result<String, ValidationError> {
    let value = raw.trim();
    if required && value.is_empty() {
        return Err(ValidationError::new(field, format!("Enter a {what}.")));
    }
    if value.chars().count() > max {
        return Err(ValidationError::new(field, format!("The {what} can be at most {max} characters long.")));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            format!("The {what} is one line of text: it cannot contain line breaks, tabs or control characters."),
        ));
    }
    super::text::refuse_invisible(field, value, what)?;
    Ok(value.to_owned())
}

fn description(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    if value.chars().count() > DESCRIPTION_MAX {
        return Err(ValidationError::new(
            "description",
            format!("The description can be at most {DESCRIPTION_MAX} characters long."),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(ValidationError::new("description", "The description contains characters that cannot be shown."));
    }
    Ok(value.to_owned())
}

/// A monthly quota: a non-negative amount in whole cents.
pub fn money(field: &'static str, what: &str, raw: &str) -> Result<BigDecimal, ValidationError> {
    let typed = raw.trim();
    if typed.is_empty() {
        return Err(ValidationError::new(field, format!("Enter a {what}, for example 1000 or 1000.00.")));
    }
    let unsigned = typed.strip_prefix('$').unwrap_or(typed).trim_start();
    if unsigned.starts_with('-') {
        return Err(ValidationError::new(field, format!("The {what} cannot be negative.")));
    }
    let digits: String = unsigned.chars().filter(|&c| c != ',').collect();
    let (whole, cents) = digits.split_once('.').unwrap_or((&digits, ""));
    let plain = !whole.is_empty()
        && whole.chars().all(|c| c.is_ascii_digit())
        && cents.chars().all(|c| c.is_ascii_digit())
        && !(digits.contains('.') && cents.is_empty());
    if !plain {
        return Err(ValidationError::new(
            field,
            format!(
                "The {what} must be an amount of money, for example 1000 or 1000.00 ({} is not).",
                super::text::quoted(typed)
            ),
        ));
    }
    if cents.len() > 2 {
        return Err(ValidationError::new(field, format!("The {what} is in whole cents: at most two decimals.")));
    }
    let amount = BigDecimal::from_str(&digits)
        .map_err(|_| ValidationError::new(field, format!("The {what} must be an amount of money.")))?;
    let max = BigDecimal::from_str(MAX_QUOTA).expect("MAX_QUOTA is a decimal");
    if amount > max {
        return Err(ValidationError::new(field, format!("The {what} can be at most {}.", format_money(&max))));
    }
    debug_assert!(!amount.is_negative());
    Ok(amount.with_scale(2))
}

/// Why a replacement cannot take over, or its id.
///
/// `chosen` is the form's `replacement_id`; `active` the ids of the
/// company's active codes.
pub fn replacement(deactivating: i64, chosen: &str, active: &[i64]) -> Result<i64, ValidationError> {
    let field = "replacement_id";
    let chosen = chosen.trim();
    if chosen.is_empty() {
        return Err(ValidationError::new(
            field,
            "Choose the budget code that takes over: everything billed to this one moves to it.",
        ));
    }
    let Ok(id) = chosen.parse::<i64>() else {
        return Err(ValidationError::new(field, "Choose a budget code from the list."));
    };
    if id == deactivating {
        return Err(ValidationError::new(field, "A budget code cannot replace itself; choose another one."));
    }
    if !active.contains(&id) {
        return Err(ValidationError::new(field, "Choose an active budget code of this company."));
    }
    Ok(id)
}

/// Money as the page shows it: `$1,234.56` (rounded to cents, half up).
pub fn format_money(amount: &BigDecimal) -> String {
    let rounded = amount.with_scale_round(2, RoundingMode::HalfUp);
    let sign = if rounded.is_negative() { "-" } else { "" };
    let plain = rounded.abs().to_string();
    let (whole, cents) = plain.split_once('.').unwrap_or((&plain, "00"));
    format!("{sign}${}.{cents}", group_thousands(whole))
}

/// A run rate as the page shows it: `$0.192/h`, to four decimals at most
/// (rates are `NUMERIC(10, 4)`), at least two.
pub fn format_rate(rate: &BigDecimal) -> String {
    let rounded = rate.with_scale_round(4, RoundingMode::HalfUp);
    let plain = rounded.abs().to_string();
    let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
    let mut fraction = fraction.trim_end_matches('0').to_owned();
    while fraction.len() < 2 {
        fraction.push('0');
    }
    format!("${}.{fraction}/h", group_thousands(whole))
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form<'a>(soft: &'a str, hard: &'a str) -> RawBudgetCode<'a> {
        RawBudgetCode {
            name: " Research ",
            finance_code: "CC-3000",
            description: "Lab work",
            soft_quota: soft,
            hard_quota: hard,
        }
    }

    fn fields(errors: &[ValidationError]) -> Vec<&'static str> {
        errors.iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_valid_form_is_trimmed_and_in_cents() {
        let code = parse(&form("$1,000", "2000.5")).expect("valid");
        assert_eq!(code.name, "Research");
        assert_eq!(code.soft_quota.to_string(), "1000.00");
        assert_eq!(code.hard_quota.to_string(), "2000.50");
    }

    #[test]
    fn one_line_fields_refuse_control_characters_at_their_own_field() {
        for (name, finance_code, field) in [("Prod\nuction", "CC-1", "name"), ("A", "F\0", "finance_code")] {
            let errors = parse(&RawBudgetCode { name, finance_code, ..form("1", "2") }).expect_err("refused");
            assert_eq!(fields(&errors), [field]);
            assert!(errors[0].message.contains("cannot contain line breaks, tabs or control characters"));
        }
    }

    #[test]
    fn soft_equal_to_hard_is_allowed_and_above_it_refused_at_the_soft_quota() {
        assert!(parse(&form("100", "100.00")).is_ok());
        assert!(parse(&form("0", "0")).is_ok());
        let errors = parse(&form("100.01", "100")).expect_err("soft above hard");
        assert_eq!(fields(&errors), ["soft_quota"]);
        assert!(errors[0].message.contains("cannot be above the hard quota ($100.00)"), "{}", errors[0].message);
    }

    #[test]
    fn bad_amounts_are_refused_with_the_reason() {
        for (typed, reason) in [
            ("-1", "cannot be negative"),
            ("$-1", "cannot be negative"),
            ("abc", "must be an amount of money"),
            ("1e400", "must be an amount of money"),
            ("1.", "must be an amount of money"),
            (".5", "must be an amount of money"),
            ("NaN", "must be an amount of money"),
            ("1 000", "must be an amount of money"),
            ("1.005", "at most two decimals"),
            ("1000000000000", "at most $999,999,999,999.99"),
            ("", "Enter a hard quota"),
        ] {
            let errors = parse(&form("0", typed)).expect_err(typed);
            assert_eq!(fields(&errors), ["hard_quota"], "{typed}");
            assert!(errors[0].message.contains(reason), "{typed}: {}", errors[0].message);
        }
        assert!(money("q", "quota", "999999999999.99").is_ok());
    }

    #[test]
    fn every_field_reports_at_once() {
        let raw = RawBudgetCode { name: "", finance_code: "", description: "", soft_quota: "x", hard_quota: "-2" };
        let errors = parse(&raw).expect_err("all wrong");
        assert_eq!(fields(&errors), ["name", "finance_code", "soft_quota", "hard_quota"]);
    }

    #[test]
    fn a_replacement_must_be_another_active_code() {
        let active = [1, 2, 3];
        assert_eq!(replacement(1, "2", &active), Ok(2));
        assert!(replacement(1, "", &active).unwrap_err().message.contains("Choose the budget code that takes over"));
        assert!(replacement(1, "1", &active).unwrap_err().message.contains("cannot replace itself"));
        assert!(replacement(1, "9", &active).unwrap_err().message.contains("active budget code of this company"));
        assert!(replacement(1, "x", &active).is_err());
    }

    #[test]
    fn money_reads_with_thousands_and_cents() {
        let m = |s: &str| BigDecimal::from_str(s).unwrap();
        assert_eq!(format_money(&m("1234567.891")), "$1,234,567.89");
        assert_eq!(format_money(&m("0")), "$0.00");
        assert_eq!(format_money(&m("100")), "$100.00");
        assert_eq!(format_money(&m("999.995")), "$1,000.00");
        assert_eq!(format_rate(&m("0.192")), "$0.192/h");
        assert_eq!(format_rate(&m("1.5")), "$1.50/h");
        assert_eq!(format_rate(&m("0")), "$0.00/h");
        assert_eq!(format_rate(&m("1234.02085")), "$1,234.0209/h");
    }
}
