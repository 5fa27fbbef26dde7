"""Analyst readers against real exports: pandas (CSV, JSON), pyarrow (Parquet) and
openpyxl (XLSX) read every format Caravan writes, empty and non-empty, and a CTDC-layout
export concatenates with a CTDC-shaped frame without renaming a column.

Usage: python read_exports.py CARAVAN_BINARY  (run by tests/run.sh with the venv of
tests/analyst/install.sh). Independent of caravan-core: the expected CTDC column list is
read from docs/export.md's table, not from the code.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import openpyxl
import pandas as pd
import pyarrow.parquet as pq

BIN = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def ctdc_columns():
    text = open(os.path.join(ROOT, "docs", "export.md"), encoding="utf-8").read()
    block = re.search(r"<!-- ctdc-columns -->\s*```\s*(.*?)```", text, re.S).group(1)
    return [c.strip() for c in block.replace("\n", ",").split(",") if c.strip()]


def run(store, *args):
    env = dict(os.environ, CARAVAN_PASSPHRASE="analyst test passphrase")
    env.pop("CARAVAN_LANG", None)
    out = subprocess.run([BIN, "--store", store, *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{args} failed: {out.stderr}")
    return out.stdout


def read(path, table=False):
    """Every format through its analyst reader, as a DataFrame. A records XLSX is read
    whole (it must be the header row, then the records: no blank or footer rows); a
    table XLSX up to the blank row before its notes."""
    if path.endswith(".csv"):
        return pd.read_csv(path)
    if path.endswith(".json"):
        doc = json.load(open(path, encoding="utf-8"))
        return pd.DataFrame(doc["records"], columns=doc["columns"])
    if path.endswith(".parquet"):
        return pq.read_table(path).to_pandas()
    wb = openpyxl.load_workbook(path)
    rows = list(wb.active.iter_rows(values_only=True))
    header = list(rows[0])
    body = []
    for r in rows[1:]:
        if table and all(v is None for v in r):
            break  # a table's notes follow a blank row
        body.append(list(r))
    return pd.DataFrame(body, columns=header)


def main():
    expected = ctdc_columns()
    check(len(expected) == 27, f"docs table has {len(expected)} columns")
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "store")
        run(store, "init", "--kdf-memory-mib", "8")
        case = ["case", "add", "--set", "gender=Feminine", "--set", "age_band=21-23",
                "--add", "citizenship=KG", "--add", "exploitation=ForcedLabour",
                "--add", "labour_industry=F_Construction",
                "--route", "Exploitation:RU:2024-03", "--consent-stats", "yes"]
        for _ in range(3):
            run(store, *case)
        first = True
        for k, n in (("3", 3), ("1000", 0)):
            for fmt in ("csv", "json", "parquet", "xlsx"):
                path = os.path.join(d, f"records-{k}.{fmt}")
                args = ["export", "records", "--schema", "ctdc", "--k", k, "--out", path]
                if not first:
                    args.append("--new-release")
                first = False
                run(store, *args)
                df = read(path)
                what = f"records k={k} {fmt}"
                check(list(df.columns) == expected, f"{what}: columns {list(df.columns)}")
                check(len(df) == n, f"{what}: {len(df)} rows, expected {n}")
                book = json.load(open(path.rsplit(".", 1)[0] + ".datapackage.json"))
                fields = [f["name"] for f in book["resources"][0]["schema"]["fields"]]
                check(fields == list(df.columns), f"{what}: codebook fields")
                released = book["caravan"]["protection"]["released"]
                check(len(df) == released, f"{what}: {len(df)} rows, {released} released")
                if n:
                    check(int(df["yearOfRegistration"].iloc[0]) >= 2000, f"{what}: year")
                    flag = df["isForcedLabour"].iloc[0]
                    check(bool(flag) is True and str(flag) in ("1", "True"), f"{what}: flag {flag!r}")
                    check(df["citizenship"].iloc[0] == "KGZ", f"{what}: citizenship")
                    if fmt in ("json", "parquet", "xlsx"):
                        check(df["isForcedLabour"].dtype == bool, f"{what}: bool dtype {df['isForcedLabour'].dtype}")
                    # Concatenates with a CTDC-shaped download without renaming.
                    ctdc = pd.DataFrame([{c: None for c in expected}])
                    both = pd.concat([ctdc, df], ignore_index=True)
                    check(list(both.columns) == expected, f"{what}: concat columns")
        for fmt in ("csv", "json", "parquet", "xlsx"):
            path = os.path.join(d, f"table.{fmt}")
            run(store, "export", "table", "--by", "citizenship", "--k", "1000",
                "--new-release", "--out", path)
            what = f"table {fmt}"
            if fmt == "json":
                doc = json.load(open(path))
                check("total" in doc and "cells" in doc, f"{what}: keys")
                continue
            if fmt == "csv":
                df = pd.read_csv(path)
            else:
                df = read(path, table=True)
            check(list(df.columns)[:2] == ["citizenship", "count"], f"{what}: {list(df.columns)}")
    print(f"analyst readers: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main()
