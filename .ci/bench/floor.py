#!/usr/bin/env python3
"""Turns the statements one page view sent to PostgreSQL into a pgbench script.

Reads from stdin a stretch of the server log (default log_line_prefix) in
which only the console's connections logged their statements
(log_min_duration_statement = 0 in their connection options). Keeps simple
statements as they are and executed prepared statements with their
parameters turned into pgbench variables. Writes the script to SCRIPT and the
variables, one `-D` argument each, NUL-separated, to DEFINES, so that
`pgbench -M prepared` sends the very SQL the console sent, with the same
parameters, planned the same way.

With a third argument, also writes each statement with its parameters
inlined as literals to LITERAL, one a line, for EXPLAIN; with a fourth, the
page's data statements alone (those that read image records or the public
catalog) as a script DATA taking the same variables: what any design of the
page must pay. Prints how many statements the view sent, how many of them
were the page's data, and how many transaction control (BEGIN, SET LOCAL,
COMMIT).

usage: floor.py SCRIPT DEFINES [LITERAL [DATA]] < server.log
"""
import re
import sys

ENTRY = re.compile(r"^\S+ \S+ \S+ \[\d+\] (?P<level>[A-Z]+):  (?P<text>.*)$")
DURATION = re.compile(r"^duration: [\d.]+ ms  (?:statement: (?P<simple>.*)|execute [^:]+: (?P<prepared>.*))$", re.S)
PARAM = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")


def entries(lines):
    """Log entries as (level, text), continuation lines joined."""
    current = None
    for line in lines:
        line = line.rstrip("\n")
        match = ENTRY.match(line)
        if match:
            if current:
                yield current
            current = [match["level"], match["text"]]
        elif current and line.startswith("\t"):
            current[1] += "\n" + line[1:]
    if current:
        yield current


DATA = re.compile(r'\b(image_records|public_images)\b')
CONTROL = re.compile(r'^(BEGIN|COMMIT|ROLLBACK|SET LOCAL)\b')


def main(script_path, defines_path, literal_path=None, data_path=None):
    statements, defines, literals = [], [], []
    pending = None
    for level, text in entries(sys.stdin):
        if level == "DETAIL" and pending is not None and text.startswith("parameters: "):
            n = len(statements)
            values = dict(PARAM.findall(text))
            literals[-1] = re.sub(r"\$(\d+)\b", lambda m: values[m[1]], literals[-1])
            for number, value in values.items():
                if value == "NULL":
                    sys.exit(f"statement {n} has a NULL parameter, which pgbench cannot pass")
                if value == "''":
                    # pgbench cannot define an empty variable: written in.
                    statements[-1] = re.sub(rf":s{n}p{number}\b", "''", statements[-1])
                    continue
                defines.append(f"s{n}p{number}={value[1:-1].replace(chr(39) * 2, chr(39))}")
            continue
        if level != "LOG":
            continue
        pending = None
        match = DURATION.match(text)
        if not match:
            continue
        if match["simple"] is not None:
            statements.append(" ".join(match["simple"].split()))
            literals.append(statements[-1])
        else:
            n = len(statements) + 1
            sql = re.sub(r"\$(\d+)\b", lambda m: f":s{n}p{m[1]}", match["prepared"])
            statements.append(" ".join(sql.split()))
            literals.append(" ".join(match["prepared"].split()))
            pending = n
    if not statements:
        sys.exit("no statements from the console in the log")
    with open(script_path, "w") as script:
        script.writelines(f"{sql};\n" for sql in statements)
    with open(defines_path, "w") as out:
        out.write("".join(f"{d}\0" for d in defines))
    if literal_path:
        with open(literal_path, "w") as out:
            out.writelines(f"{sql}\n" for sql in literals)
    if data_path:
        data = [sql for sql in statements if DATA.search(sql)]
        with open(data_path, "w") as script:
            script.writelines(f"{sql};\n" for sql in data)
        control = [sql for sql in statements if CONTROL.match(sql)]
        print(len(statements), len(data), len(control))


if __name__ == "__main__":
    main(*sys.argv[1:])
