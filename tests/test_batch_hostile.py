"""Hostile batch files: each gives a clear one-line error naming the culprit, or a correct result.

Non-UTF-8 text, NUL bytes, gigantic cells, 10,000 columns, mixed line endings, duplicate column
names, and random files mixing all of them (hypothesis). A correct result means: one output row per
input record as pandas parses it, every computed row equal to ``model.posteriors`` on that record,
every failed row NaN with a short code; no traceback, no other row lost.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayesnet.cli import main
from bayesnet.io.batch import partial_path, run_batch

READ = {"keep_default_na": False, "na_values": [""], "dtype": {"error": "object"}}


def _cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    _, err = capsys.readouterr()
    return code, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _expected(model, rows: list[dict]) -> pd.DataFrame:
    """The reference: model.posteriors on records given as Python dicts (not read from any file)."""
    return model.posteriors(pd.DataFrame(rows, dtype=object), errors="report")


def _check_good_rows(model, out: pd.DataFrame, rows: list[dict], good: list[int]) -> None:
    ref = _expected(model, [rows[i] for i in good])
    assert (out.loc[good, "error"].fillna("") == "").all()
    np.testing.assert_allclose(out.loc[good, model.conditions].to_numpy(float), ref[model.conditions].to_numpy(float),
                               rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------ encodings


def test_non_utf8_file_names_the_byte_line_and_encoding(tmp_path, capsys):
    src = tmp_path / "in.csv"
    data = b"fever,age_group,note\nyes,70_plus,\nno,under_50,\n" + "yes,70_plus,fièvre\n".encode("latin-1")
    src.write_bytes(data)
    out = tmp_path / "out.csv"
    code, err = _cli(capsys, "batch", src, "-o", out, "--no-progress")
    line = _one_error_line(err)
    assert code == 2 and f"cannot read {str(src)!r} as utf-8: byte 0xe8 at offset {data.index(0xE8)}" in line
    assert "(line 4)" in line and "--encoding" in line and "cp1252" in line
    assert not out.exists() and not partial_path(out).exists()
    # named, it decodes: the note column is not a variable, so only that row fails, and says so in French
    code, err = _cli(capsys, "batch", src, "-o", out, "--encoding", "latin-1", "--no-progress")
    assert code == 2 and "unknown_column:note: 1 row, first row 2: column 'note' (value 'fièvre')" in err
    assert pd.read_csv(out, **READ)["error"].fillna("").tolist() == ["", "", "unknown_column:note"]


def test_utf16_and_bom_files_give_the_same_output_as_utf8(tmp_path, capsys):
    text = "fever,age_group\nyes,70_plus\n,under_50\nno,\n"
    plain, bom, wide = tmp_path / "plain.csv", tmp_path / "bom.csv", tmp_path / "wide.csv"
    plain.write_text(text, encoding="utf-8")
    bom.write_text(text, encoding="utf-8-sig")
    wide.write_text(text, encoding="utf-16")
    assert _cli(capsys, "batch", plain, "-o", tmp_path / "a.csv", "--no-progress")[0] == 0
    assert _cli(capsys, "batch", bom, "-o", tmp_path / "b.csv", "--no-progress")[0] == 0
    code, err = _cli(capsys, "batch", wide, "-o", tmp_path / "c.csv", "--no-progress")
    assert code == 2 and "cannot read" in _one_error_line(err) and "--encoding" in err
    assert _cli(capsys, "batch", wide, "-o", tmp_path / "c.csv", "--encoding", "utf-16", "--no-progress")[0] == 0
    ref = (tmp_path / "a.csv").read_bytes()
    assert (tmp_path / "b.csv").read_bytes() == ref and (tmp_path / "c.csv").read_bytes() == ref


@pytest.mark.parametrize("name", ["klingon", "rot13", "base64", ""])
def test_unknown_encoding_is_a_usage_error(tmp_path, capsys, name):
    src = tmp_path / "in.csv"
    src.write_text("fever\nyes\n")
    code, err = _cli(capsys, "batch", src, "-o", tmp_path / "o.csv", f"--encoding={name}")
    line = _one_error_line(err)
    assert code == 2 and "--encoding" in line and f"unknown text encoding {name!r}" in line


# ------------------------------------------------------------------------------------ NUL, giants


def test_nul_bytes_in_cells_and_header(tmp_path, capsys, model):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(b"fever,age_group,fe\x00ver\nyes,70_plus,\nye\x00s,under_50,\n\x00,50_to_69,\nno,,x\x00\n"
                    b"yes,under_50,\n")
    code, err = _cli(capsys, "batch", src, "-o", out, "--no-progress")
    assert code == 2 and "\x00" not in err  # escaped on the terminal
    assert "unknown_state:fever: 2 rows, first row 1: unknown state 'ye\\x00s'" in err
    assert "unknown_column:fe\\x00ver: 1 row, first row 3" in err
    got = pd.read_csv(out, **READ)
    assert got["error"].fillna("").tolist() == ["", "unknown_state:fever", "unknown_state:fever",
                                                "unknown_column:fe\\x00ver", ""]
    assert got.loc[[1, 2, 3], model.conditions].isna().all().all()
    _check_good_rows(model, got, [{"fever": "yes", "age_group": "70_plus"}, {}, {}, {},
                                  {"fever": "yes", "age_group": "under_50"}], [0, 4])


def test_gigantic_cells_are_named_briefly_and_fast(tmp_path, capsys, model):
    """An 8 MB state, an 8 MB soft-evidence cell and a 1 MB column name: short codes, short lines, seconds."""
    giant = "x" * 8_000_000
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    header = f"fever,age_group,{'c' * 1_000_000}"
    rows = ["yes,70_plus,", f"{giant},under_50,", '"{""yes"": 0.5, ""no"": ' + "1" * 8_000_000 + '}",70_plus,',
            "no,,v", "no,under_50,", '"{""yes"": ' + "[" * 200_000 + '}",,']
    src.write_text("\n".join([header, *rows]) + "\n")
    start = time.perf_counter()
    code, err = _cli(capsys, "batch", src, "-o", out, "--no-progress")
    elapsed = time.perf_counter() - start
    assert code == 2 and elapsed < 20, elapsed
    assert max(len(line) for line in err.splitlines()) < 700
    assert "unknown_state:fever: 1 row, first row 1: unknown state 'xxxxx" in err and "(8,000,000 characters)" in err
    got = pd.read_csv(out, **READ)
    codes = got["error"].fillna("").tolist()
    assert codes[:3] == ["", "unknown_state:fever", "bad_soft_evidence:fever"] and codes[5] == codes[2]
    assert codes[3].startswith("unknown_column:ccccc") and len(codes[3]) < 80 and codes[4] == ""
    assert out.stat().st_size < 5_000
    _check_good_rows(model, got, [{"fever": "yes", "age_group": "70_plus"}, {}, {}, {},
                                  {"fever": "no", "age_group": "under_50"}, {}], [0, 4])


def test_ten_thousand_columns(tmp_path, capsys, model):
    """10,000 columns (4 variables, the rest not): read in narrow chunks; rows with a value in unknown
    columns fail with a capped code list, the others equal the reference."""
    n_rows, extra = 120, 9_996
    names = ["fever", "age_group", "d_dimer", "iv_drug_use", *[f"extra_{i}" for i in range(extra)]]
    rng = np.random.default_rng(0)
    rows = [{"fever": rng.choice(["yes", "no", None]), "age_group": rng.choice(["under_50", "70_plus"]),
             "d_dimer": rng.choice(["positive", None]), "iv_drug_use": "no"} for _ in range(n_rows)]
    lines = [",".join(names)]
    blank = "," * (extra - 1)
    for i, r in enumerate(rows):
        head = ",".join(r[c] or "" for c in names[:4])
        tail = ",".join(["v"] * 20 + [""] * (extra - 20)) if i in (10, 110) else blank
        lines.append(f"{head},{tail}")
    src, out = tmp_path / "wide.csv", tmp_path / "out.csv"
    src.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    report = run_batch(model, src, out, chunk_size=60, progress=False)  # two chunks
    elapsed = time.perf_counter() - start
    got = pd.read_csv(out, **READ)
    assert report.rows == n_rows == len(got) and report.failed == 2 and elapsed < 30, elapsed
    assert got.loc[10, "error"] == ";".join(f"unknown_column:extra_{i}" for i in range(5)) + ";+15 more"
    assert len(report.problems) == 20 and report.problems["unknown_column:extra_0"].first_row == 10
    good = [i for i in range(n_rows) if i not in (10, 110)]
    _check_good_rows(model, got, rows, good)
    print(f"10,000 columns x {n_rows} rows: {elapsed:.1f} s")


def test_ten_thousand_filled_columns_keep_the_report_bounded(tmp_path, capsys):
    names = ["fever", *[f"x{i}" for i in range(9_999)]]
    src, out = tmp_path / "wide.csv", tmp_path / "out.csv"
    src.write_text(",".join(names) + "\n" + ("yes," + ",".join(["1"] * 9_999) + "\n") * 12)
    code, err = _cli(capsys, "batch", src, "-o", out, "--no-progress")
    assert code == 2 and len(err.splitlines()) == 20 + 2  # 20 problems shown, a summary of the rest, the count
    assert "... and more kinds of problem in" in err and "scored 0 of 12 rows" in err
    cells = pd.read_csv(out, **READ)["error"]
    assert (cells == "unknown_column:x0;unknown_column:x1;unknown_column:x2;unknown_column:x3;unknown_column:x4;"
                     "+9994 more").all()


# ------------------------------------------------------------------------------------ layout


def test_mixed_line_endings_give_the_same_output(tmp_path, capsys):
    records = ["fever,age_group", "yes,70_plus", "no,under_50", ",", "yes,", "no,70_plus", "yes,50_to_69"]
    plain, mixed = tmp_path / "plain.csv", tmp_path / "mixed.csv"
    plain.write_text("\n".join(records) + "\n")
    ends = ["\r\n", "\n", "\r", "\r\n", "\r", "\n"]
    mixed.write_bytes("".join(r + e for r, e in zip(records, ends, strict=False)).encode() + records[-1].encode())
    for chunk in (2, 50_000):
        a, b = tmp_path / f"a{chunk}.csv", tmp_path / f"b{chunk}.csv"
        assert _cli(capsys, "batch", plain, "-o", a, "--chunk-size", chunk, "--no-progress")[0] == 0
        assert _cli(capsys, "batch", mixed, "-o", b, "--chunk-size", chunk, "--no-progress")[0] == 0
        assert b.read_bytes() == a.read_bytes() and len(pd.read_csv(a)) == 6


def test_duplicate_column_names_are_refused_naming_them(tmp_path, capsys):
    src, out = tmp_path / "dup.csv", tmp_path / "out.csv"
    src.write_text("fever,age_group,fever\nyes,70_plus,no\n")
    code, err = _cli(capsys, "batch", src, "-o", out, "--no-progress")
    line = _one_error_line(err)
    assert code == 2 and "column 'fever' appears 2 times in the header (columns 1, 3)" in line
    assert not out.exists() and not partial_path(out).exists()


def test_ragged_row_names_the_line(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("fever,age_group\nyes,70_plus\nno,under_50,extra\n")
    code, err = _cli(capsys, "batch", src, "-o", tmp_path / "o.csv", "--no-progress")
    assert code == 2 and "line 3" in _one_error_line(err) and "cannot parse" in err


# ------------------------------------------------------------------------------------ random files

VARIABLES = ["fever", "age_group", "d_dimer", "iv_drug_use"]
CELLS = ["yes", "no", "", "", "70_plus", "under_50", "positive", "negative", "maybe", "NA", "\x00", "ye\x00s", "é",
         "\u2028", "\U0001f642", '"{""yes"": 0.5, ""no"": 1}"', '"{""yes"": -1, ""no"": 1}"', '"{bad"', "x" * 3000,
         '"a,b"', '"two\nlines"', '"say ""yes"""']


@st.composite
def hostile_csv(draw):
    names = draw(st.lists(st.one_of(st.sampled_from([*VARIABLES, "fevr", "", "fe\x00ver", "é", "n" * 500]),
                                    st.text(alphabet="abc_", min_size=1, max_size=4)), min_size=1, max_size=5))
    cell = st.one_of(st.sampled_from(CELLS), st.text(alphabet="abyesno019.-", max_size=4))
    rows = draw(st.lists(st.lists(cell, min_size=len(names), max_size=len(names) + draw(st.sampled_from([0, 0, 0, 1]))),
                         max_size=8))
    ends = st.sampled_from(["\n", "\r\n", "\r"])
    lines = [",".join(names), *(",".join(r) for r in rows)]
    text = "".join(line + draw(ends) for line in lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "latin-1"]))
    return text.encode(encoding, errors="replace"), draw(st.integers(1, 4))


def test_random_hostile_files(tmp_path_factory, model, capsys):
    """Whatever the file: exit 0 or 2, never a traceback; a run that fails says so in one line; a run that
    writes has one row per record pandas reads, equal to the engine's answer or NaN with a short code."""
    base = tmp_path_factory.mktemp("hostile")

    @given(hostile_csv())
    def check(case):
        data, chunk = case
        src, out = base / "in.csv", base / "out.csv"
        src.write_bytes(data)
        out.unlink(missing_ok=True)
        code, err = _cli(capsys, "batch", src, "-o", out, "--chunk-size", chunk, "--no-progress")
        assert code in (0, 2), err
        assert "Traceback" not in err and "unexpected" not in err, err
        if not out.exists():
            _one_error_line(err)
            return
        parsed = pd.read_csv(src, dtype=str)
        got = pd.read_csv(out, **READ)
        assert len(got) == len(parsed) and got["row"].tolist() == list(range(len(parsed)))
        errors = got["error"].fillna("")
        assert (errors.str.len() < 400).all()
        known = parsed[[c for c in parsed.columns if c in model.tables.states]]
        ref = model.posteriors(known, errors="report")
        others = parsed[[c for c in parsed.columns if c not in model.tables.states]].notna().any(axis=1)
        ok = (errors == "").to_numpy()
        assert (ok == ((ref["error"] == "") & ~others).to_numpy()).all()
        vals = got.loc[ok, model.conditions].to_numpy(float)
        np.testing.assert_allclose(vals, ref.loc[ok, model.conditions].to_numpy(float), rtol=0, atol=1e-12)
        assert got.loc[~ok, model.conditions].isna().all().all()

    check()
