"""Hostile input outside batch files: priors files, evidence values from every Unicode category, soft evidence.

Each input gets a clear error naming the culprit (one line: the file and entry, the variable,
state or value) or a correct result; never a traceback, never NaN posing as a probability.
Correct results are checked against independent references: pgmpy's variable elimination with
virtual evidence for soft evidence; for a model grown with copies of a finding, probability
theory (an unobserved leaf changes nothing; an identical copy observed tells what the original
tells) applied to the shipped model.

Priors files are built in ``tmp_path`` from the shipped ones, never edited in place. Profiles
(tests/conftest.py): ``fast`` mutates every field of every priors file once (one entry per file,
field name and type), ``long`` (``BAYESNET_PROFILE=long``) every one of the ~2,300 entries.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import SETTINGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesnet
from bayesnet.data.priors import MAX_VARIABLES, load_priors
from bayesnet.errors import BayesNetError, EvidenceError, PriorsError, UnknownNameError

N = settings.default.max_examples  # 25 in the fast profile, 500 in the long one
LONG = N >= 100


def few(divisor: int, floor: int = 4) -> settings:
    """A fraction of the profile's examples, for expensive properties."""
    return settings(max_examples=max(floor, N // divisor), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def one_line(message: str) -> bool:
    return len(message.splitlines()) == 1 and "Traceback" not in message


# ============================================================================ priors files
def _files(directory: Path) -> list[str]:
    return ["risk_factors.yaml", "conditions.yaml", "findings.yaml",
            *(f"settings/{p.name}" for p in sorted((directory / "settings").glob("*.yaml")))]


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    else:
        yield path, obj


def _dump(data) -> str:
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, allow_unicode=True)


@pytest.fixture(scope="module")
def shipped(priors_dir) -> dict:
    """Every priors file, parsed, with YAML aliases unshared (so one mutation changes one entry)."""
    return {f: json.loads(json.dumps(yaml.safe_load((priors_dir / f).read_text(encoding="utf-8"))))
            for f in _files(priors_dir)}


@pytest.fixture
def workdir(tmp_path, priors_dir) -> Path:
    dst = tmp_path / "priors"
    shutil.copytree(priors_dir, dst)
    return dst


def _wrong(value):
    """A value of the wrong type for the entry holding ``value``."""
    if isinstance(value, bool):
        return "maybe"
    if isinstance(value, int | float):
        return "0.5x"
    if isinstance(value, str):
        return ["x"]
    return {"x": 1}


def _cases(shipped: dict) -> list[tuple[str, tuple, object]]:
    """(file, path, value): every field of every file's schema once (by field name and type; the setting
    files share one schema); with LONG every entry of every file."""
    out, seen = [], set()
    for f, data in shipped.items():
        schema = "settings" if f.startswith("settings/") else f
        for path, value in _leaves(data):
            name = next((k for k in reversed(path) if isinstance(k, str)), "")
            key = (schema, name, isinstance(path[-1], int), type(value).__name__)
            if LONG or key not in seen:
                seen.add(key)
                out.append((f, path, value))
    return out


def _entry_path(entry: str) -> str:
    """``conditions.dvt.risk_factors[0] (id)`` -> ``conditions.dvt.risk_factors.0``."""
    return re.sub(r"\[(\d+)\]", r".\1", re.sub(r" \([^)]*\)", "", entry or ""))


def test_every_field_wrong_once(shipped, workdir, priors_dir):
    """Each entry given a value of the wrong type: the error names that file and that entry (or one inside it)."""
    failures = []
    cases = _cases(shipped)
    for f, path, value in cases:
        data = copy.deepcopy(shipped[f])
        parent = data
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = _wrong(value)
        (workdir / f).write_text(_dump(data), encoding="utf-8")
        where = ".".join(map(str, path))
        try:
            load_priors(workdir)
        except PriorsError as exc:
            entry = _entry_path(exc.entry)
            named = entry == where or entry.startswith(where + ".") or (where.rsplit(".", 1)[0] == entry)
            if exc.file != f or not named or not one_line(str(exc)):
                failures.append(f"{f}: {where} -> {exc}")
        except Exception as exc:  # noqa: BLE001 - the point of the test: any other exception is a failure
            failures.append(f"{f}: {where} -> {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{f}: {where} = {_wrong(value)!r} was accepted")
        finally:
            shutil.copyfile(priors_dir / f, workdir / f)
    assert not failures, f"{len(failures)} of {len(cases)}:\n" + "\n".join(failures[:20])
    assert len(shipped) >= 7 and {"risk_factors.yaml", "conditions.yaml", "findings.yaml"} <= {f for f, _, _ in cases}


def test_a_key_written_twice_is_refused_in_every_file(workdir, priors_dir):
    """YAML keeps the last of two equal keys without a word; the loader names the line instead."""
    for f in _files(priors_dir):
        text = (priors_dir / f).read_text(encoding="utf-8")
        lines = text.splitlines()
        i = next(n for n, line in enumerate(lines) if re.match(r"\s+(value|description): ", line))
        lines.insert(i + 1, lines[i])  # the same key again, in the same mapping
        (workdir / f).write_text("\n".join(lines) + "\n", encoding="utf-8")
        with pytest.raises(PriorsError, match=r"duplicate key '(value|description)'") as info:
            load_priors(workdir)
        assert info.value.file == f and info.value.entry == f"line {i + 2}", str(info.value)
        assert one_line(str(info.value))
        shutil.copyfile(priors_dir / f, workdir / f)


def test_ten_thousand_findings_are_refused_at_once(workdir, priors_dir):
    """The count is checked before any entry is validated (or the network built: with 1,000 more findings the
    junction tree alone takes about 40 s; with 10,000, hours): short entries are enough to reach it."""
    text = (priors_dir / "findings.yaml").read_text(encoding="utf-8")
    extra = "".join(f"  extra_{i:05d}: {{kind: finding, description: copy {i}}}\n" for i in range(10_000))
    (workdir / "findings.yaml").write_text(text.rstrip("\n") + "\n" + extra, encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(PriorsError, match=rf"10\d\d\d entries bring the model to \d+ variables; at most "
                                          rf"{MAX_VARIABLES}") as info:
        load_priors(workdir)
    assert time.perf_counter() - start < 10
    assert info.value.file == "findings.yaml" and info.value.entry == "findings" and one_line(str(info.value))


def test_the_same_finding_ten_thousand_times_names_the_second(workdir, priors_dir):
    text = (priors_dir / "findings.yaml").read_text(encoding="utf-8")
    block = "  fever: {kind: finding, description: written again}\n"
    (workdir / "findings.yaml").write_text(text.rstrip("\n") + "\n" + block * 10_000, encoding="utf-8")
    with pytest.raises(PriorsError, match="duplicate key 'fever'") as info:
        load_priors(workdir)
    assert info.value.file == "findings.yaml" and info.value.entry.startswith("line ")


def test_ten_thousand_entries_elsewhere(shipped, workdir):
    """10,000 entries in a setting, in a condition's effects, in the risk factors: each a named error."""
    setting = copy.deepcopy(shipped["settings/primary_care.yaml"])
    for i in range(10_000):
        setting["conditions"][f"condition_{i:05d}"] = {"value": 0.01, "source": "s", "setting": "s", "grade": "C"}
    (workdir / "settings/primary_care.yaml").write_text(_dump(setting), encoding="utf-8")
    with pytest.raises(PriorsError, match="unknown condition with a prevalence 'condition_00000'") as info:
        load_priors(workdir)
    assert info.value.file == "settings/primary_care.yaml" and info.value.entry == "conditions.condition_00000"
    (workdir / "settings/primary_care.yaml").write_text(_dump(shipped["settings/primary_care.yaml"]), encoding="utf-8")

    conditions = copy.deepcopy(shipped["conditions.yaml"])
    effects = conditions["conditions"]["spinal_metastasis"]["risk_factors"]
    effects += [{"factor": "history_of_cancer", "kind": "odds_ratio", "value": 2.0, "source": "s", "setting": "s",
                 "grade": "C"} for _ in range(10_000)]
    (workdir / "conditions.yaml").write_text(_dump(conditions), encoding="utf-8")
    with pytest.raises(PriorsError, match=r"given twice .*it would be applied twice") as info:
        load_priors(workdir)
    assert info.value.file == "conditions.yaml"
    assert info.value.entry.startswith("conditions.spinal_metastasis.risk_factors[")
    (workdir / "conditions.yaml").write_text(_dump(shipped["conditions.yaml"]), encoding="utf-8")

    rfs = copy.deepcopy(shipped["risk_factors.yaml"])
    for i in range(10_000):
        rfs["risk_factors"][f"factor_{i:05d}"] = {"description": f"factor {i}"}
    (workdir / "risk_factors.yaml").write_text(_dump(rfs), encoding="utf-8")
    with pytest.raises(PriorsError, match=f"at most {MAX_VARIABLES}") as info:
        load_priors(workdir)
    assert info.value.file == "risk_factors.yaml" and info.value.entry == "risk_factors"


def test_a_repeated_effect_is_not_applied_twice(shipped, workdir, models):
    """The copy-paste that used to move P(spinal metastasis | cancer history) from 5.8% to 10.4% unnoticed."""
    conditions = copy.deepcopy(shipped["conditions.yaml"])
    effects = conditions["conditions"]["spinal_metastasis"]["risk_factors"]
    effects.append(copy.deepcopy(effects[0]))
    (workdir / "conditions.yaml").write_text(_dump(conditions), encoding="utf-8")
    with pytest.raises(PriorsError, match=rf"history_of_cancer=yes is given twice \(entries 0 and {len(effects) - 1}\)"):
        load_priors(workdir)


def test_many_copies_of_a_finding_give_the_shipped_answers(shipped, workdir, models):
    """100 extra findings, each a copy of fever: unobserved they change nothing; one observed tells what fever tells."""
    findings = copy.deepcopy(shipped["findings.yaml"])
    for i in range(100):
        findings["findings"][f"fever_copy_{i:03d}"] = copy.deepcopy(findings["findings"]["fever"])
    (workdir / "findings.yaml").write_text(_dump(findings), encoding="utf-8")
    model = bayesnet.BackPainModel(load_priors(workdir), "primary_care")
    base = models["primary_care"]
    for ev, same in (({"fever_copy_042": "yes"}, {"fever": "yes"}),
                     ({"fever_copy_007": "no", "age_group": "70_plus"}, {"fever": "no", "age_group": "70_plus"}),
                     ({"history_of_cancer": "yes", "night_pain": "yes"}, {"history_of_cancer": "yes", "night_pain": "yes"})):
        got = model.diagnose(ev).ranking["posterior"]
        want = base.diagnose(same).ranking["posterior"]
        assert np.isfinite(got.to_numpy()).all()
        np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-12)


# ============================================================================ unicode evidence
#: The 30 general categories of the Unicode standard.
CATEGORIES = ("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf",
              "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn")


@st.composite
def unicode_value(draw, category: str, around: tuple[str, ...]):
    """Text of one Unicode category, alone or around / inside a valid name."""
    junk = draw(st.text(st.characters(categories=[category]), min_size=1, max_size=4))
    name = draw(st.sampled_from(around))
    cut = draw(st.integers(0, len(name)))
    return draw(st.sampled_from([junk, name + junk, junk + name, name[:cut] + junk + name[cut:]]))


def _ranking(model, evidence) -> list[tuple[str, float]]:
    r = model.diagnose(evidence).ranking["posterior"]
    return [(str(c), float(p)) for c, p in r.items()]


def _check_probabilities(values) -> None:
    arr = np.asarray(values, dtype=float)
    assert np.isfinite(arr).all() and ((arr >= 0) & (arr <= 1)).all(), arr


@pytest.mark.parametrize("category", CATEGORIES)
def test_unicode_evidence_through_the_api(models, category):
    """States, variable names, likelihood keys and table cells and columns made of (or spiked with) text of one
    Unicode category: the API's answer when the text is a valid name, else a one-line error quoting it; in a
    table, the bad rows are reported and every other row keeps its answer."""
    model = models["primary_care"]
    observable = [v for v, k in model.tables.kinds.items() if k != "condition"]

    @few(12, floor=2)
    @given(st.lists(st.sampled_from(observable), min_size=1, max_size=6), st.data())
    def check(variables, data):
        rows, expect = [], []
        for var in variables:
            states = model.states[var]
            state = data.draw(unicode_value(category, states))
            name = data.draw(unicode_value(category, (var,)))
            if state in states:  # e.g. a letter category rebuilding the state itself
                _check_probabilities(model.diagnose({var: state}).ranking["posterior"])
            else:
                with pytest.raises(UnknownNameError) as info:
                    model.diagnose({var: state})
                assert one_line(str(info.value)) and repr(state) in str(info.value) and repr(var) in str(info.value)
                with pytest.raises(UnknownNameError) as info:  # as a key of soft evidence
                    model.diagnose({var: {**dict.fromkeys(states, 1.0), state: 0.5}})
                assert one_line(str(info.value)) and repr(state) in str(info.value)
            if name not in model.states:
                with pytest.raises(UnknownNameError) as info:
                    model.diagnose({name: states[0]})
                assert one_line(str(info.value)) and repr(name) in str(info.value)
            rows += [{var: state}, {var: states[0]}]
            expect += [state in states, True]
        # dtype=object: pandas' own string dtype cannot hold a lone surrogate (Cs), so a user's frame is object
        out = model.posteriors(pd.DataFrame(rows, dtype=object), errors="report")
        assert len(out) == len(rows)
        for i, (row, ok) in enumerate(zip(rows, expect, strict=True)):
            values = out[model.conditions].iloc[i].to_numpy(dtype=float)
            if ok:
                assert out["error"].iloc[i] == "", out["error"].iloc[i]
                want = model.diagnose(row).ranking["posterior"].loc[model.conditions].to_numpy()
                np.testing.assert_allclose(values, want, rtol=1e-12, atol=1e-15)
            else:
                err = out["error"].iloc[i]
                assert err and one_line(err) and next(iter(row)) in err, err
                assert np.isnan(values).all()  # an error row holds no number
        bad_columns = [n for n in (data.draw(unicode_value(category, (v,))) for v in variables) if n not in model.states]
        if bad_columns:
            with pytest.raises(UnknownNameError) as info:
                names = list(dict.fromkeys(bad_columns))
                model.posteriors(pd.DataFrame([["yes"] * len(names)], columns=pd.Index(names, dtype=object),
                                              dtype=object))
            assert one_line(str(info.value))

    check()


def _cli(args, capsys):
    from bayesnet.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("category", CATEGORIES)
def test_unicode_evidence_on_the_command_line(models, category, capsys, monkeypatch):
    """``-e NAME=STATE`` with text of every category: the API's answer (for the state without surrounding
    whitespace, as the command line reads it) or exit status 2 with one line naming the text. (The command
    is given the already loaded model: loading it again for each example would only repeat the same half
    second.)"""
    import bayesnet.cli

    model = models["primary_care"]
    monkeypatch.setattr(bayesnet.cli, "_model", lambda setting, priors: models[setting])

    @few(12, floor=2)
    @given(st.sampled_from(["fever", "age_group", "d_dimer", "sex"]), st.data())
    def check(var, data):
        states = model.states[var]
        state = data.draw(unicode_value(category, states))
        code, out, err = _cli(["diagnose", "-e", f"{var}={state}", "--json"], capsys)
        read = state.strip()
        if read in states:
            assert code == 0, err
            got = [(r["condition"], r["posterior"]) for r in json.loads(out)["ranking"]]
            assert got == _ranking(model, {var: read})
        else:
            assert code == 2 and err.startswith("error: ") and one_line(err), (state, err)
            assert "Traceback" not in err
            if read and "=" not in read and not read.startswith("{"):
                assert repr(read) in err or repr(read).encode("ascii", "backslashreplace").decode() in err, err
        name = data.draw(unicode_value(category, (var,)))
        code, out, err = _cli(["diagnose", "-e", f"{name}={states[0]}"], capsys)
        if name.strip() == var:
            assert code == 0, err
        else:
            assert code == 2 and one_line(err) and err.startswith("error: "), (name, err)

    check()


# ============================================================================ soft evidence
def _virtual_reference(ve, model, hard: dict, var: str, lik: np.ndarray) -> dict[str, float]:
    """P(condition = yes | hard, virtual evidence ``lik`` on ``var``) from pgmpy's variable elimination."""
    from pgmpy.factors.discrete import TabularCPD

    states = list(model.states[var])
    scaled = lik / lik.max()  # the same evidence (a likelihood is defined up to a factor); keeps pgmpy's sums in range
    cpd = TabularCPD(var, len(states), [[x] for x in scaled], state_names={var: states})
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ve.query(list(model.conditions), evidence=hard or None, virtual_evidence=[cpd], joint=False,
                       show_progress=False)
    for c in model.conditions:
        out[c] = float(res[c].values[list(res[c].state_names[c]).index("yes")])
    return out


LIKELIHOOD = st.one_of(
    st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, 1e-300, 1e300, 5e-324, 0.5, 1e-12]),
    st.integers(min_value=0, max_value=10**6),
)


@pytest.mark.parametrize("setting", ["primary_care", "emergency"])
def test_soft_evidence_equals_pgmpy_virtual_evidence(models, ve, setting):
    """Soft evidence through diagnose, through posteriors (a dict cell, a JSON cell) and pgmpy's virtual evidence agree."""
    model = models[setting]
    observable = [v for v, k in model.tables.kinds.items() if k != "condition"]

    @few(6)
    @given(st.sampled_from(observable), st.data())
    def check(var, data):
        states = model.states[var]
        lik = np.array(data.draw(st.lists(LIKELIHOOD, min_size=len(states), max_size=len(states))), dtype=float)
        others = [v for v in observable if v != var]
        hard_vars = data.draw(st.lists(st.sampled_from(others), max_size=3, unique=True))
        hard = {v: data.draw(st.sampled_from(model.states[v])) for v in hard_vars}
        soft = dict(zip(states, lik.tolist(), strict=True))
        if lik.max() <= 0:
            with pytest.raises(EvidenceError, match="all zero"):
                model.diagnose({**hard, var: soft})
            return
        dx = model.diagnose({**hard, var: soft}).ranking["posterior"]
        _check_probabilities(dx)
        ref = _virtual_reference(ve[setting], model, hard, var, lik)
        for c in model.conditions:
            assert abs(dx[c] - ref[c]) <= 1e-9, (c, dx[c], ref[c], var, soft, hard)
        # the batch entry point, with the soft cell as a mapping and as the JSON text a CSV file holds
        df = pd.DataFrame([{**hard, var: soft}, {**hard, var: json.dumps(soft)}], index=["dict", "json"])
        post = model.posteriors(df)
        for row in ("dict", "json"):
            np.testing.assert_allclose(post.loc[row, model.conditions].to_numpy(dtype=float),
                                       dx.loc[model.conditions].to_numpy(), rtol=1e-9, atol=1e-12)

    check()


@pytest.mark.parametrize(("value", "match"), [
    ({"yes": 10**5000, "no": 1}, "must be a finite number; got '<an integer of 5001 digits>'"),
    ({"yes": 2**1100, "no": 1}, "must be a finite number"),
    ({"yes": float("nan"), "no": 1}, "must be a finite number; got nan"),
    ({"yes": float("inf"), "no": 1}, "must be a finite number; got inf"),
    ({"yes": -0.1, "no": 1}, "must not be negative"),
    ({"yes": True, "no": 1}, "must be a finite number; got True"),
    ({"yes": "0.5", "no": 1}, "must be a finite number; got '0.5'"),
    ({"yes": None, "no": 1}, "must be a finite number; got None"),
    ({"yes": [0.5], "no": 1}, "must be a finite number"),
    ({"yes": {"p": 0.5}, "no": 1}, "must be a finite number"),
    ({"yes": 0.5 + 0j, "no": 1}, "must be a finite number"),
    ({"yes": 0, "no": 0}, "all zero"),
    ({"yes": 0.5}, "must give every state; missing no"),
    ({"yes": 0.5, "no": 0.5, "maybe": 1}, "unknown state 'maybe'"),
    ({b"yes": 0.5, "no": 0.5}, "unknown state b'yes'"),
    ({("yes",): 0.5, "no": 0.5}, "unknown state"),
    ({"y" * 100_000: 1, "yes": 1, "no": 1}, r"\(100000 characters\)"),
    ({}, "must give every state"),
])
def test_hostile_soft_values_are_named(models, value, match):
    model = models["primary_care"]
    with pytest.raises(BayesNetError, match=match) as info:
        model.diagnose({"fever": value, "age_group": "70_plus"})
    msg = str(info.value)
    assert one_line(msg) and "fever" in msg and len(msg) < 300
    # the same cell in a scenario table: that row reported, the next one untouched
    df = pd.DataFrame({"fever": [value, "yes"], "age_group": ["70_plus", "70_plus"]})
    out = model.posteriors(df, errors="report")
    assert out["error"].iloc[0] and one_line(out["error"].iloc[0]) and len(out["error"].iloc[0]) < 400
    assert out["error"].iloc[1] == ""
    want = model.diagnose({"fever": "yes", "age_group": "70_plus"}).ranking["posterior"].loc[model.conditions]
    np.testing.assert_allclose(out[model.conditions].iloc[1].to_numpy(dtype=float), want.to_numpy(),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("cell", "match"), [
    ('{"yes": 1' + "0" * 5000 + ', "no": 1}', "too many digits"),
    ('{"yes": 1' + "0" * 400 + ', "no": 1}', "must be a finite number"),
    ('{"yes": 1e999, "no": 1}', "must be a finite number; got inf"),
    ('{"yes": NaN, "no": 1}', "must be a finite number; got nan"),
    ('{"yes": 0.5, "no": 0.5', "cannot read likelihoods"),
    ("{" + "[" * 100_000, "cannot read likelihoods"),
    ('{"yes": 0.5, "no": 0.5, "yes": 1}', None),  # JSON keeps the last of two keys: a valid cell, as JSON reads it
])
def test_hostile_soft_cells_in_a_table(models, cell, match):
    model = models["primary_care"]
    df = pd.DataFrame({"fever": [cell, "no"]})
    out = model.posteriors(df, errors="report")
    assert out["error"].iloc[1] == ""
    if match is None:
        assert out["error"].iloc[0] == ""
        want = model.diagnose({"fever": {"yes": 1, "no": 0.5}}).ranking["posterior"]
        np.testing.assert_allclose(out[model.conditions].iloc[0].to_numpy(dtype=float),
                                   want.loc[model.conditions].to_numpy(), rtol=1e-12)
        return
    err = out["error"].iloc[0]
    assert re.search(match, err) and one_line(err) and len(err) < 400, err
    assert out[model.conditions].iloc[0].isna().all()


@pytest.mark.parametrize(("value", "same_as"), [
    ({"yes": 5e-324, "no": 0}, {"fever": "yes"}),  # the smallest positive float against zero: certainty
    ({"yes": 1e300, "no": 1e-300}, {"fever": "yes"}),  # a ratio of 1e600 underflows to certainty too
    ({"yes": 1, "no": 1}, {}),  # uninformative
    ({"yes": np.float32(0.25), "no": np.int64(1)}, {"fever": {"yes": 0.25, "no": 1.0}}),
])
def test_extreme_soft_values_are_exact_limits(models, value, same_as):
    model = models["primary_care"]
    got = model.diagnose({"fever": value}).ranking["posterior"]
    want = model.diagnose(same_as).ranking["posterior"]
    _check_probabilities(got)
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("text", ['fever={"yes": 0.8, "no": 0.2}', "fever={yes: 0.8}", "fever= {"])
def test_soft_evidence_on_the_command_line_is_refused_clearly(text, capsys):
    code, out, err = _cli(["diagnose", "-e", text], capsys)
    assert code == 2 and out == "" and one_line(err)
    assert "soft evidence" in err and "'fever'" in err


def test_every_setting_refuses_bad_soft_evidence_the_same_way(models):
    for setting in SETTINGS:
        with pytest.raises(EvidenceError, match="likelihood of fever=yes must be a finite number"):
            models[setting].diagnose({"fever": {"yes": float("nan"), "no": 1}})
