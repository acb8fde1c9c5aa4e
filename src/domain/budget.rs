//! Budget arithmetic: what a budget code has spent this month, what it will
//! have spent by the month's end, and whether a launch may still bill to it.
//!
//! Nothing here is stored: the figures are derived from the servers billed to
//! a code, each with its hourly rate (the product's rate when it was
//! launched), its launch and termination times and its state.
//!
//! # Which servers bill
//! A server *bills now* in the states in which it is up at the provider or
//! about to be: `PENDING`, `RUNNING`, `REBOOTING`, `PAUSING` and `STOPPING`
//! (the console's terminating state). EC2 itself does not bill `pending`, nor
//! most of `stopping` and `shutting-down`, but those states last seconds to
//! minutes, and a quota guard must err high: a `PENDING` row is a launch the
//! console has already asked for, so counting it keeps a burst of launches
//! from each passing the hard-quota check before the first server is up.
//! `PAUSED`, `TERMINATED` and `ERROR` servers do not bill now.
//!
//! # Month to date
//! Months are calendar months in UTC, from their first instant up to (not
//! including) the first instant of the next month. A server's billed time
//! runs from `launched_at` to its end, clipped to the month so far:
//! - a server with a `terminated_at` ends then, whatever its state;
//! - a server that bills now, or is `PAUSED`, ends now;
//! - a `TERMINATED` or `ERROR` server without a `terminated_at` counts
//!   nothing: an `ERROR` server is a launch that failed, which the provider
//!   never billed, and the terminate path records `terminated_at`.
//!
//! Pause intervals are not recorded yet, so a `PAUSED` server is counted as if
//! it had run until now. That errs high, never low: the alternative (dropping
//! it) would erase a month's real run time with one click on Pause, and a
//! hard quota that pausing can dodge guards nothing. It stops adding to the
//! run rate at once, so the projection drops when a server is paused; but its
//! month to date keeps growing while it stays paused. Recording when a
//! server's state last changed would let it count only until the pause.
//!
//! `launched_at` is when the console asked for the server, so the minutes
//! before the provider had it running are counted too.
//!
//! # Projection and state
//! projected = month to date + run rate × hours left until the next month.
//! The state compares the projection, rounded to cents, with the quotas:
//! `NORMAL` below the soft quota, `SOFT_ALARM` from the soft quota (inclusive)
//! to the hard quota (exclusive), `HARD_ALARM` at the hard quota or above. A
//! code exactly at its hard quota has nothing left to spend, so it is in
//! `HARD_ALARM`, and a hard quota of 0 allows nothing. Rounding first makes
//! the state agree with the figures on the page: it never shows "100.00 of a
//! 100.00 hard quota" next to `SOFT_ALARM`. Quotas are `NUMERIC(14, 2)`, whole
//! cents, so the comparison loses nothing. When a soft quota is set above the
//! hard quota, the hard quota still wins.
//!
//! # Exactness
//! Money is `BigDecimal`, never float. Billed time is taken to the
//! nanosecond, so rate × time is exact; only the final division by 3,600
//! seconds an hour does not terminate, and is carried to `BigDecimal`'s 100
//! significant digits. Amounts are rounded to cents (half up) only for display
//! and for the state, with [`cents`]. The run rate is a sum of `NUMERIC(10, 4)`
//! rates and is exact as it is.

use std::fmt;

use bigdecimal::num_bigint::BigInt;
use bigdecimal::{BigDecimal, RoundingMode, Zero};
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};

use super::servers::ServerState;

/// What budget arithmetic needs to know of a server billed to a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUsage {
    /// Money per hour, as recorded at launch.
    pub hourly_rate: BigDecimal,
    pub launched_at: DateTime<Utc>,
    pub terminated_at: Option<DateTime<Utc>>,
    pub state: ServerState,
}

impl ServerUsage {
    /// Whether the server adds to the run rate at `now`.
    pub fn bills_at(&self, now: DateTime<Utc>) -> bool {
        self.state.bills() && self.terminated_at.is_none_or(|end| end > now)
    }

    /// The server's billed time from `since` up to `now` (see the module
    /// documentation); never negative.
    pub fn billed_between(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> TimeDelta {
        let end = match self.terminated_at {
            Some(terminated) => terminated,
            None if self.state.bills() || self.state == ServerState::Paused => now,
            None => return TimeDelta::zero(),
        };
        let billed = end.min(now) - self.launched_at.max(since);
        billed.max(TimeDelta::zero())
    }
}

/// A budget code's monthly quotas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    pub soft: BigDecimal,
    pub hard: BigDecimal,
}

impl Quotas {
    /// The state of a code whose month is projected at `projected` (see the
    /// module documentation for the boundaries).
    pub fn state(&self, projected: &BigDecimal) -> BudgetState {
        let projected = cents(projected);
        if projected >= self.hard {
            BudgetState::HardAlarm
        } else if projected >= self.soft {
            BudgetState::SoftAlarm
        } else {
            BudgetState::Normal
        }
    }
}

/// How close a code's projected month is to its quotas, calmest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BudgetState {
    Normal,
    SoftAlarm,
    HardAlarm,
}

impl BudgetState {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetState::Normal => "NORMAL",
            BudgetState::SoftAlarm => "SOFT_ALARM",
            BudgetState::HardAlarm => "HARD_ALARM",
        }
    }
}

impl fmt::Display for BudgetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A launch refused because it would take the code to its hard quota.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "This launch would push the budget code past its hard quota: the month would come to {projected} \
     against a hard quota of {hard_quota}."
)]
pub struct OverHardQuota {
    /// The month's projection with the launch, in cents.
    pub projected: BigDecimal,
    pub hard_quota: BigDecimal,
}

/// A budget code's figures at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetFigures {
    run_rate: BigDecimal,
    /// Month to date × 3,600: money-seconds per hour, exact.
    usage_seconds: BigDecimal,
    /// Seconds from now to the first instant of the next month, exact.
    seconds_left: BigDecimal,
    quotas: Quotas,
    current_usage: BigDecimal,
    projected_usage: BigDecimal,
    state: BudgetState,
}

impl BudgetFigures {
    /// The figures at `now` of a code with these quotas, from the servers
    /// billed to it. Servers that do not touch the month count nothing, so
    /// the caller may pass more than it must.
    pub fn new(servers: &[ServerUsage], quotas: Quotas, now: DateTime<Utc>) -> Self {
        let since = month_start(now);
        let mut run_rate = BigDecimal::zero();
        let mut usage_seconds = BigDecimal::zero();
        for server in servers {
            if server.bills_at(now) {
                run_rate += &server.hourly_rate;
            }
            usage_seconds += &server.hourly_rate * seconds(server.billed_between(since, now));
        }
        let seconds_left = seconds(next_month_start(now) - now);
        Self::from_parts(run_rate, usage_seconds, seconds_left, quotas)
    }

    fn from_parts(run_rate: BigDecimal, usage_seconds: BigDecimal, seconds_left: BigDecimal, quotas: Quotas) -> Self {
        let hour = BigDecimal::from(3600);
        let current_usage = &usage_seconds / &hour;
        let projected_usage = (&usage_seconds + &run_rate * &seconds_left) / &hour;
        let state = quotas.state(&projected_usage);
        Self { run_rate, usage_seconds, seconds_left, quotas, current_usage, projected_usage, state }
    }

    /// Money per hour of the servers billing now.
    pub fn run_rate(&self) -> &BigDecimal {
        &self.run_rate
    }

    /// Money spent this month so far (exact; [`cents`] for display).
    pub fn current_usage(&self) -> &BigDecimal {
        &self.current_usage
    }

    /// Money the month will have cost if the servers billing now run to its
    /// end (exact; [`cents`] for display).
    pub fn projected_usage(&self) -> &BigDecimal {
        &self.projected_usage
    }

    pub fn state(&self) -> BudgetState {
        self.state
    }

    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// Whether the launch dialog offers the code at all: not in `HARD_ALARM`.
    pub fn offered_at_launch(&self) -> bool {
        self.state < BudgetState::HardAlarm
    }

    /// The figures as they would be if servers costing `extra_hourly_rate`
    /// together (count × the product's rate) were launched now.
    pub fn after_launch(&self, extra_hourly_rate: &BigDecimal) -> Self {
        Self::from_parts(
            &self.run_rate + extra_hourly_rate,
            self.usage_seconds.clone(),
            self.seconds_left.clone(),
            self.quotas.clone(),
        )
    }

    /// The figures after the launch, or the reason to refuse it: it would
    /// bring the code to `HARD_ALARM`. A code already there refuses every
    /// launch, so this is the same decision as [`Self::offered_at_launch`].
    pub fn check_launch(&self, extra_hourly_rate: &BigDecimal) -> Result<Self, OverHardQuota> {
        let after = self.after_launch(extra_hourly_rate);
        if after.state == BudgetState::HardAlarm {
            return Err(OverHardQuota {
                projected: cents(&after.projected_usage),
                hard_quota: cents(&after.quotas.hard),
            });
        }
        Ok(after)
    }
}

/// An amount of money for display: rounded to cents, half up.
pub fn cents(amount: &BigDecimal) -> BigDecimal {
    amount.with_scale_round(2, RoundingMode::HalfUp)
}

/// The first instant, in UTC, of the month of `at`.
pub fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    first_of_month(at).and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The first instant, in UTC, of the month after the month of `at`. The
/// last month chrono can represent ends at its last instant.
pub fn next_month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    first_of_month(at)
        .checked_add_months(Months::new(1))
        .map_or(DateTime::<Utc>::MAX_UTC, |date| date.and_time(chrono::NaiveTime::MIN).and_utc())
}

fn first_of_month(at: DateTime<Utc>) -> NaiveDate {
    // Day 1 exists in every month, including the first and last chrono knows.
    at.date_naive().with_day(1).expect("every month has a first day")
}

/// A non-negative span as exact seconds, to the nanosecond.
fn seconds(span: TimeDelta) -> BigDecimal {
    let nanos = i128::from(span.num_seconds()) * 1_000_000_000 + i128::from(span.subsec_nanos());
    BigDecimal::new(BigInt::from(nanos), 9)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn money(s: &str) -> BigDecimal {
        s.parse().expect("a decimal")
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().expect("a valid instant")
    }

    fn quotas(soft: &str, hard: &str) -> Quotas {
        Quotas { soft: money(soft), hard: money(hard) }
    }

    fn server(rate: &str, launched_at: DateTime<Utc>, state: ServerState) -> ServerUsage {
        ServerUsage { hourly_rate: money(rate), launched_at, terminated_at: None, state }
    }

    fn terminated(rate: &str, launched_at: DateTime<Utc>, terminated_at: DateTime<Utc>) -> ServerUsage {
        ServerUsage {
            hourly_rate: money(rate),
            launched_at,
            terminated_at: Some(terminated_at),
            state: ServerState::Terminated,
        }
    }

    fn roomy() -> Quotas {
        quotas("1000000", "2000000")
    }

    #[test]
    fn months_start_and_end_at_midnight_utc() {
        let now = utc(2026, 11, 23, 8, 15);
        assert_eq!(month_start(now), utc(2026, 11, 1, 0, 0));
        assert_eq!(next_month_start(now), utc(2026, 12, 1, 0, 0));
        assert_eq!(month_start(utc(2026, 12, 1, 0, 0)), utc(2026, 12, 1, 0, 0), "the first instant is inside");
        assert_eq!(next_month_start(DateTime::<Utc>::MAX_UTC), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn a_server_launched_last_month_counts_from_the_month_start() {
        let now = utc(2026, 11, 23, 8, 0);
        let figures = BudgetFigures::new(&[server("0.5", utc(2026, 10, 20, 0, 0), ServerState::Running)], roomy(), now);
        assert_eq!(figures.run_rate(), &money("0.5"));
        // 22 days and 8 hours = 536 hours; 7 days and 16 hours = 184 left.
        assert_eq!(cents(figures.current_usage()), money("268.00"));
        assert_eq!(cents(figures.projected_usage()), money("360.00"));
        assert_eq!(figures.state(), BudgetState::Normal);
    }

    #[test]
    fn a_server_terminated_this_month_counts_until_its_termination_and_no_longer_bills() {
        let now = utc(2026, 11, 23, 8, 0);
        let servers = [terminated("2", utc(2026, 10, 1, 0, 0), utc(2026, 11, 2, 12, 30))];
        let figures = BudgetFigures::new(&servers, roomy(), now);
        assert_eq!(figures.run_rate(), &BigDecimal::zero());
        assert_eq!(cents(figures.current_usage()), money("73.00"), "36.5 hours at 2 an hour");
        assert_eq!(figures.projected_usage(), figures.current_usage());
    }

    #[test]
    fn servers_outside_the_month_so_far_count_nothing() {
        let now = utc(2026, 11, 23, 8, 0);
        let servers = [
            terminated("5", utc(2026, 9, 1, 0, 0), utc(2026, 10, 31, 23, 59)),
            terminated("5", utc(2026, 10, 1, 0, 0), utc(2026, 11, 1, 0, 0)),
            // Launched after now (the database's clock ran ahead): it bills
            // from now on, but has spent nothing yet.
            server("1", utc(2026, 11, 23, 9, 0), ServerState::Running),
        ];
        let figures = BudgetFigures::new(&servers, roomy(), now);
        assert_eq!(figures.current_usage(), &BigDecimal::zero());
        assert_eq!(figures.run_rate(), &money("1"));
        assert_eq!(cents(figures.projected_usage()), money("184.00"));
    }

    #[test]
    fn a_termination_recorded_after_now_counts_until_now() {
        let now = utc(2026, 11, 2, 0, 0);
        let servers = [ServerUsage {
            terminated_at: Some(utc(2026, 11, 2, 1, 0)),
            ..server("1", utc(2026, 11, 1, 0, 0), ServerState::Stopping)
        }];
        let figures = BudgetFigures::new(&servers, roomy(), now);
        assert_eq!(cents(figures.current_usage()), money("24.00"));
        assert_eq!(figures.run_rate(), &money("1"), "still stopping: it bills until it is gone");
    }

    #[test]
    fn paused_servers_count_until_now_but_leave_the_run_rate_and_failed_ones_count_nothing() {
        let now = utc(2026, 11, 11, 0, 0);
        let launched = utc(2026, 11, 1, 0, 0);
        let servers = [
            server("1", launched, ServerState::Paused),
            server("100", launched, ServerState::Error),
            server("100", launched, ServerState::Terminated),
        ];
        let figures = BudgetFigures::new(&servers, roomy(), now);
        assert_eq!(cents(figures.current_usage()), money("240.00"));
        assert_eq!(figures.run_rate(), &BigDecimal::zero());
        assert_eq!(figures.projected_usage(), figures.current_usage());
    }

    #[test]
    fn every_up_state_bills_and_adds_up() {
        let now = utc(2026, 11, 30, 23, 0);
        let launched = utc(2026, 11, 30, 22, 0);
        let servers: Vec<_> = ["0.0208", "0.1", "0.2", "0.3", "0.4"]
            .into_iter()
            .zip([
                ServerState::Pending,
                ServerState::Running,
                ServerState::Pausing,
                ServerState::Rebooting,
                ServerState::Stopping,
            ])
            .map(|(rate, state)| server(rate, launched, state))
            .collect();
        let figures = BudgetFigures::new(&servers, roomy(), now);
        assert_eq!(figures.run_rate(), &money("1.0208"));
        assert_eq!(figures.current_usage(), &money("1.0208"));
        assert_eq!(figures.projected_usage(), &money("2.0416"), "one hour spent, one left");
    }

    #[test]
    fn leap_february_has_29_days_of_projection() {
        let launched = utc(2028, 1, 10, 0, 0);
        let leap = BudgetFigures::new(&[server("1", launched, ServerState::Running)], roomy(), utc(2028, 2, 15, 0, 0));
        assert_eq!(cents(leap.current_usage()), money("336.00"));
        assert_eq!(cents(leap.projected_usage()), money("696.00"), "29 days × 24 hours");

        let launched = utc(2027, 1, 10, 0, 0);
        let common =
            BudgetFigures::new(&[server("1", launched, ServerState::Running)], roomy(), utc(2027, 2, 15, 0, 0));
        assert_eq!(cents(common.projected_usage()), money("672.00"), "28 days × 24 hours");
    }

    #[test]
    fn december_rolls_over_into_january_of_the_next_year() {
        let running = server("1", utc(2026, 11, 15, 0, 0), ServerState::Running);
        let servers = [running, terminated("1", utc(2026, 12, 1, 0, 0), utc(2026, 12, 31, 23, 0))];

        let last_hour = BudgetFigures::new(&servers, roomy(), utc(2026, 12, 31, 23, 0));
        assert_eq!(next_month_start(utc(2026, 12, 31, 23, 0)), utc(2027, 1, 1, 0, 0));
        assert_eq!(cents(last_hour.current_usage()), money("1486.00"), "743 hours each");
        assert_eq!(cents(last_hour.projected_usage()), money("1487.00"));

        let new_year = BudgetFigures::new(&servers, roomy(), utc(2027, 1, 1, 0, 30));
        assert_eq!(cents(new_year.current_usage()), money("0.50"), "December's usage is gone");
        assert_eq!(cents(new_year.projected_usage()), money("744.00"), "31 days of January");
    }

    #[test]
    fn the_soft_quota_itself_is_a_soft_alarm_and_the_hard_quota_itself_a_hard_alarm() {
        let q = quotas("50", "100");
        for (projected, state) in [
            ("0", BudgetState::Normal),
            ("49.99", BudgetState::Normal),
            ("49.994999", BudgetState::Normal),
            ("49.995", BudgetState::SoftAlarm),
            ("50", BudgetState::SoftAlarm),
            ("99.99", BudgetState::SoftAlarm),
            ("99.994", BudgetState::SoftAlarm),
            ("99.995", BudgetState::HardAlarm),
            ("100.00", BudgetState::HardAlarm),
            ("1000", BudgetState::HardAlarm),
        ] {
            assert_eq!(q.state(&money(projected)), state, "{projected}");
        }
        assert_eq!(quotas("0", "0").state(&BigDecimal::zero()), BudgetState::HardAlarm, "a zero quota allows nothing");
        assert_eq!(quotas("200", "100").state(&money("150")), BudgetState::HardAlarm, "the hard quota wins");
    }

    #[test]
    fn figures_exactly_at_a_quota_take_the_alarm() {
        // 40 hours spent and 10 left at 1 an hour: exactly 50.
        let now = utc(2026, 11, 30, 14, 0);
        let servers = [server("1", utc(2026, 11, 28, 22, 0), ServerState::Running)];
        let soft = BudgetFigures::new(&servers, quotas("50", "100"), now);
        assert_eq!(soft.projected_usage(), &money("50"));
        assert_eq!(soft.state(), BudgetState::SoftAlarm);
        let hard = BudgetFigures::new(&servers, quotas("10", "50"), now);
        assert_eq!(hard.state(), BudgetState::HardAlarm);
        assert!(!hard.offered_at_launch());
        let below = BudgetFigures::new(&servers, quotas("50.01", "100"), now);
        assert_eq!(below.state(), BudgetState::Normal);
        assert!(below.offered_at_launch());
    }

    #[test]
    fn a_launch_that_would_reach_the_hard_quota_is_refused() {
        // 60 projected (40 spent, 10 hours left at 2 an hour) of soft 50, hard 100.
        let now = utc(2026, 11, 30, 14, 0);
        let servers = [
            terminated("2", utc(2026, 11, 20, 0, 0), utc(2026, 11, 20, 20, 0)),
            server("2", utc(2026, 11, 30, 14, 0), ServerState::Running),
        ];
        let figures = BudgetFigures::new(&servers, quotas("50", "100"), now);
        assert_eq!(cents(figures.projected_usage()), money("60.00"));
        assert_eq!(figures.state(), BudgetState::SoftAlarm);

        let within = figures.check_launch(&money("3.999")).expect("99.99 stays below the hard quota");
        assert_eq!(within.state(), BudgetState::SoftAlarm);
        assert_eq!(within.run_rate(), &money("5.999"));
        assert_eq!(within.current_usage(), figures.current_usage(), "a launch has spent nothing yet");
        assert_eq!(cents(within.projected_usage()), money("99.99"));

        let over = figures.after_launch(&money("4"));
        assert_eq!(over.state(), BudgetState::HardAlarm);
        let refused = figures.check_launch(&money("4")).expect_err("100 reaches the hard quota");
        assert_eq!(refused, OverHardQuota { projected: money("100.00"), hard_quota: money("100.00") });
        assert!(refused.to_string().contains("past its hard quota"), "{refused}");
    }

    #[test]
    fn a_code_in_hard_alarm_refuses_even_an_empty_launch() {
        let now = utc(2026, 11, 30, 14, 0);
        let servers = [terminated("10", utc(2026, 11, 1, 0, 0), utc(2026, 11, 1, 12, 0))];
        let figures = BudgetFigures::new(&servers, quotas("50", "100"), now);
        assert_eq!(figures.state(), BudgetState::HardAlarm);
        assert!(figures.check_launch(&BigDecimal::zero()).is_err());
    }

    #[test]
    fn usage_is_exact_to_the_nanosecond_and_rounded_half_up_only_for_display() {
        let now = utc(2026, 11, 1, 0, 0) + TimeDelta::nanoseconds(1_800_000_000_001);
        let figures = BudgetFigures::new(&[server("3600", utc(2026, 11, 1, 0, 0), ServerState::Paused)], roomy(), now);
        assert_eq!(figures.current_usage(), &money("1800.000000001"));
        assert_eq!(cents(&money("0.005")), money("0.01"));
        assert_eq!(cents(&money("0.0049")), money("0.00"));
        assert_eq!(cents(&money("0.0208")).to_string(), "0.02");
    }
}
