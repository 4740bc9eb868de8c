"""Robustness: random and hostile input to the public API, the command line and the loaders.

Property-based (hypothesis). Every call must give a result or a clear error (a
:class:`~bayesnet.errors.BayesNetError`, or exit status 2 with one stderr line on the command
line), never another exception, a hang or a NaN posterior. Scenarios with every finding observed
must stay exact (equal to pgmpy's variable elimination to 1e-9).

Profiles (tests/conftest.py): ``BAYESNET_PROFILE=fast`` (default, a few seconds for this file)
and ``BAYESNET_PROFILE=long`` (about twenty times more examples, on demand). The slow properties
(model builds, pgmpy queries, the command line) run a fraction of the profile's examples.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import SETTINGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesnet
from bayesnet.data.priors import load_priors
from bayesnet.errors import BayesNetError, ImpossibleEvidenceError, PriorsError

N = settings.default.max_examples  # 25 in the fast profile, 500 in the long one


def few(divisor: int, floor: int = 4) -> settings:
    """A fraction of the profile's examples, for expensive properties."""
    return settings(max_examples=max(floor, N // divisor), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


PRIOR_FILES = ("risk_factors.yaml", "conditions.yaml", "findings.yaml", "settings/primary_care.yaml", "settings/emergency.yaml")

# --------------------------------------------------------------------------------------------
# strategies

HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 5e-324, 0.0, -0.0]),
    st.text(max_size=12),
    st.sampled_from(["", " ", "yes ", "YES", "Yes", "positive", "elevated", "high", "low", "normal", "under_50",
                     "70_plus", "true", "null", "NaN", "\x00", "é", "yes\n", "=", "{", '{"yes": 1}']),
    st.binary(max_size=6),
)


def _likelihoods(states):
    keys = st.one_of(st.sampled_from(list(states)), st.text(max_size=5), st.integers())
    return st.dictionaries(keys, HOSTILE_SCALARS, max_size=4)


@st.composite
def hostile_evidence(draw, model):
    names = list(model.states)
    key = st.one_of(
        st.sampled_from(names),
        st.sampled_from(names),
        st.text(max_size=10),
        st.sampled_from(["", " fever", "Fever", "fever ", "mechanical_pain", "age group"]),
        st.integers(),
        st.none(),
        st.binary(max_size=4),
        st.tuples(st.text(max_size=3)),
    )
    items = draw(st.lists(key, max_size=8, unique_by=lambda k: (type(k).__name__, repr(k))))
    ev = {}
    for k in items:
        states = model.states.get(k, ("yes", "no")) if isinstance(k, str) else ("yes", "no")
        ev[k] = draw(
            st.one_of(
                st.sampled_from(list(states)),
                st.sampled_from(list(states)),
                HOSTILE_SCALARS,
                _likelihoods(states),
                st.fixed_dictionaries({s: HOSTILE_SCALARS for s in states}),
                st.lists(st.sampled_from(list(states)), max_size=2),
                st.dictionaries(st.text(max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                                max_size=2),
            )
        )
    return ev


@st.composite
def full_evidence(draw, model):
    """Every risk factor, finding and test observed, in random states."""
    return {v: draw(st.sampled_from(model.states[v])) for v, k in model.tables.kinds.items() if k != "condition"}


def _check_ranking(ranking: pd.DataFrame) -> None:
    post = ranking["posterior"].to_numpy(dtype=float)
    assert np.isfinite(post).all() and ((post >= 0) & (post <= 1)).all(), ranking
    assert np.isfinite(ranking["prior"].to_numpy(dtype=float)).all()


# --------------------------------------------------------------------------------------------
# the Python API


@pytest.mark.parametrize("setting", SETTINGS)
def test_hostile_evidence_diagnose(models, setting):
    model = models[setting]

    @given(hostile_evidence(model))
    def check(ev):
        try:
            dx = model.diagnose(ev)
        except BayesNetError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
        _check_ranking(dx.ranking)
        lr = dx.ranking["likelihood_ratio"].to_numpy(dtype=float)
        assert not np.isnan(lr).any()

    check()


def test_hostile_evidence_other_entry_points(models):
    model = models["emergency"]

    @few(3)
    @given(hostile_evidence(model), st.sampled_from(["uncertainty", "most_probable", "marginals", "explain"]))
    def check(ev, what):
        try:
            if what == "uncertainty":
                res = model.uncertainty(ev, draws=4, seed=1)
                vals = res[["posterior", "low", "high"]].to_numpy(dtype=float)
            elif what == "most_probable":
                vals = model.most_probable(ev, k=3)["probability"].to_numpy(dtype=float)
            elif what == "marginals":
                vals = np.concatenate(list(model.marginals(ev).values()))
            else:
                dx = model.diagnose(ev)
                ex = dx.explain(dx.leading_serious)
                vals = ex["contribution"].to_numpy(dtype=float)
                if 0.0 < ex.attrs["posterior"] < 1.0:  # an uncertain condition: every weight is a finite number
                    assert np.isfinite(vals).all() and ex.attrs["note"] == ""
                else:  # certain (e.g. observed): weights are +-inf or undefined, and the note says so
                    assert not np.isfinite(vals).all() and ex.attrs["note"]
                lr = ex["likelihood_ratio"].to_numpy(dtype=float)
                assert (np.isnan(lr) == np.isnan(vals)).all() and (lr[~np.isnan(lr)] >= 0).all()
                return
        except BayesNetError:
            return
        assert np.isfinite(vals).all() and (vals >= 0).all() and (vals <= 1 + 1e-12).all()

    check()


def test_hostile_evidence_next_tests(models):
    model = models["primary_care"]
    options = st.fixed_dictionaries(
        {},
        optional={
            "condition": st.one_of(st.sampled_from(model.conditions), HOSTILE_SCALARS),
            "threshold": HOSTILE_SCALARS,
        },
    )

    @few(5)
    @given(hostile_evidence(model), options)
    def check(ev, kwargs):
        try:
            nt = model.next_tests(ev, **kwargs)
        except BayesNetError:
            return
        num = nt.select_dtypes("number").to_numpy(dtype=float)
        assert not np.isnan(num).any(), nt

    check()


HASHABLE_CELLS = st.one_of(
    HOSTILE_SCALARS,
    st.sampled_from(["yes", "no", "positive", "negative", "under_50", "70_plus", '{"yes": 0.5, "no": 1}',
                     '{"yes": NaN, "no": 1}', '{"yes": -1, "no": 1}', '{"yes": 1e999, "no": 1}', '{"maybe": 1}',
                     '{"yes": 1', "{}", "[1, 2]"]),
    st.fixed_dictionaries({"yes": HOSTILE_SCALARS, "no": HOSTILE_SCALARS}),
)


@st.composite
def hostile_frame(draw, model):
    names = list(model.states)
    cols = draw(st.lists(st.one_of(st.sampled_from(names), st.text(max_size=6)), min_size=1, max_size=5,
                         unique=True))
    n = draw(st.integers(min_value=0, max_value=6))
    data = {c: [draw(HASHABLE_CELLS) for _ in range(n)] for c in cols}
    return pd.DataFrame(data, columns=cols)


def test_hostile_scenario_tables(models):
    model = models["primary_care"]

    @given(hostile_frame(model))
    def check(df):
        try:
            out = model.posteriors(df, errors="report")
        except BayesNetError:
            return  # unknown columns are refused as a whole
        assert list(out.index) == list(df.index)
        ok = out["error"].astype(str) == ""
        vals = out.loc[ok, model.conditions].to_numpy(dtype=float)
        assert np.isfinite(vals).all() and ((vals >= 0) & (vals <= 1)).all()
        bad = out.loc[~ok, model.conditions].to_numpy(dtype=float)
        assert np.isnan(bad).all()
        # the two modes agree: strict raises exactly when a row is reported bad, and otherwise
        # gives the same numbers as the report
        try:
            strict = model.posteriors(df)
        except BayesNetError as exc:
            assert (~ok).any(), f"strict posteriors() raised ({exc}) but errors='report' found no bad row"
            return
        assert ok.all(), f"errors='report' flagged rows {list(out.index[~ok])} that strict posteriors() accepted"
        assert list(strict.index) == list(df.index) and list(strict.columns) == model.conditions
        np.testing.assert_array_equal(strict.to_numpy(dtype=float), out[model.conditions].to_numpy(dtype=float))

    check()


@pytest.mark.parametrize("cell", [["yes"], {"yes"}])
def test_unhashable_cells_are_bad_input(models, cell):
    df = pd.DataFrame({"fever": [cell, "yes"]})
    out = models["primary_care"].posteriors(df, errors="report")
    assert out["error"].iloc[0] and out["error"].iloc[1] == ""


def test_huge_numbers_of_findings(models):
    model = models["primary_care"]
    many = {f"finding_{i}": "yes" for i in range(20_000)}
    with pytest.raises(BayesNetError, match="unknown variable"):
        model.diagnose(many)
    # a large batch with every finding observed stays finite and exact in the vectorised engine
    rng = np.random.default_rng(0)
    obs = [v for v, k in model.tables.kinds.items() if k != "condition"]
    n = 20_000
    df = pd.DataFrame({v: rng.choice(np.array(model.states[v], dtype=object), size=n) for v in obs})
    post = model.posteriors(df)
    assert np.isfinite(post.to_numpy()).all() and ((post >= 0) & (post <= 1)).all().all()
    for i in (0, n // 2, n - 1):
        dx = model.diagnose(df.iloc[i].to_dict())
        assert np.allclose(post.iloc[i].to_numpy(), dx.ranking.loc[post.columns, "posterior"].to_numpy(),
                           rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------------------------
# exactness with every finding observed


def _assert_matches_pgmpy(model, ev):
    eng = model.marginals(ev)
    ref = model.marginals(ev, method="pgmpy")
    for c in model.conditions:
        assert np.isfinite(eng[c]).all()
        assert eng[c].sum() == pytest.approx(1.0, abs=1e-12)
        assert np.abs(eng[c] - ref[c]).max() <= 1e-9, (c, eng[c], ref[c])
    return eng


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_finding_observed_is_exact(models, setting):
    model = models[setting]

    @few(2)
    @given(full_evidence(model))
    def check(ev):
        try:
            _assert_matches_pgmpy(model, ev)
        except ImpossibleEvidenceError:  # cannot happen today (every leak is positive), but allowed
            return
        dx = model.diagnose(ev)
        _check_ranking(dx.ranking)

    check()


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("which", [0, 1])
def test_all_present_or_all_absent_is_exact(models, setting, which):
    """The most extreme evidence: every finding and test positive (or every one negative)."""
    model = models[setting]
    ev = {v: model.states[v][which if k != "risk_factor" else 0]
          for v, k in model.tables.kinds.items() if k != "condition"}
    eng = _assert_matches_pgmpy(model, ev)
    if which == 0:  # with everything present, mechanical pain is essentially excluded
        assert eng["mechanical_pain"][0] < 1e-6
    unc = model.uncertainty(ev, draws=8, seed=0)
    assert np.isfinite(unc[["posterior", "low", "high"]].to_numpy()).all()
    assert unc.attrs["excluded_draws"] == 0


# --------------------------------------------------------------------------------------------
# the command line


def _cli(args, capsys):
    from bayesnet.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


NAMES_AND_JUNK = st.one_of(st.sampled_from(["fever", "age_group", "history_of_cancer", "d_dimer", "mechanical_pain",
                                            "dvt", "fevr", "", " "]), st.text(max_size=8))
STATES_AND_JUNK = st.one_of(st.sampled_from(["yes", "no", "70_plus", "positive", "maybe", "", "="]), st.text(max_size=6))


@st.composite
def cli_args(draw):
    cmd = draw(st.sampled_from(["diagnose", "explain", "next-test", "sensitivity", "sources", "diagnoze", "--help",
                                "--version"]))
    args = [cmd]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["ev", "ev_raw", "setting", "json", "cond", "unc", "junk", "threshold", "top"]))
        if kind == "ev":
            args += ["-e", f"{draw(NAMES_AND_JUNK)}={draw(STATES_AND_JUNK)}"]
        elif kind == "ev_raw":
            args += ["--evidence", draw(st.text(max_size=10))]
        elif kind == "setting":
            args += ["--setting", draw(st.one_of(st.sampled_from(["emergency", "primary_care", "emergancy"]),
                                                 st.text(max_size=6)))]
        elif kind == "json":
            args.append("--json")
        elif kind == "cond":
            args += ["-c", draw(st.one_of(st.sampled_from(["dvt", "spinal_metastasis", "nope"]), st.text(max_size=5)))]
        elif kind == "unc":
            args += ["--uncertainty", str(draw(st.integers(-3, 6)))]
        elif kind == "threshold":
            args += ["--threshold", draw(st.sampled_from(["0.1", "nan", "inf", "-1", "2", "x", "1e-300"]))]
        elif kind == "top":
            args += ["--top", draw(st.sampled_from(["0", "-1", "3", "x", "99999999999999999999"]))]
        else:
            args.append(draw(st.one_of(st.text(max_size=8), st.sampled_from(["--", "-", "--bogus", "-e"]))))
    return args


def test_cli_fuzz_exit_status(capsys):
    @few(3)
    @given(cli_args())
    def check(args):
        code, _, err = _cli(args, capsys)
        assert code in (0, 2), (args, code, err)
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error:"), (args, err)
        assert "Traceback" not in err

    check()


@st.composite
def csv_text(draw):
    cols = draw(st.lists(st.one_of(st.sampled_from(["fever", "age_group", "d_dimer", "iv_drug_use", "fevr"]),
                                   st.text(alphabet="abcdefgh_", min_size=1, max_size=6)),
                         min_size=1, max_size=4, unique=True))
    cell = st.one_of(st.sampled_from(["yes", "no", "", "70_plus", "positive", "maybe", "NaN", "null",
                                      '"{""yes"": 0.5, ""no"": 1}"', '"{""yes"": -1, ""no"": 1}"']),
                     st.text(alphabet="abcxyz019.-", max_size=5))
    rows = draw(st.lists(st.lists(cell, min_size=len(cols), max_size=len(cols)), max_size=5))
    return "\n".join([",".join(cols), *(",".join(r) for r in rows)]) + "\n"


def test_cli_batch_fuzz(capsys, tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")

    @few(5)
    @given(csv_text())
    def check(text):
        src = base / "in.csv"
        src.write_text(text, encoding="utf-8")
        dst = base / "out.csv"
        code, _, err = _cli(["batch", str(src), "-o", str(dst), "--no-progress"], capsys)
        assert code in (0, 2), (text, code, err)
        assert "Traceback" not in err and "unexpected" not in err, err
        if dst.exists():
            out = pd.read_csv(dst)
            num = out.drop(columns=[c for c in ("row", "error") if c in out.columns])
            good = out["error"].isna() if "error" in out.columns else np.ones(len(out), bool)
            vals = num[good].to_numpy(dtype=float)
            assert np.isfinite(vals).all() and ((vals >= 0) & (vals <= 1)).all()
            dst.unlink()

    check()


# --------------------------------------------------------------------------------------------
# the priors loader


@pytest.fixture(scope="module")
def prior_data(priors_dir):
    """The priors files, parsed once (with libyaml where available: fast and still safe)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return {f: yaml.load((priors_dir / f).read_text(encoding="utf-8"), Loader=loader) for f in PRIOR_FILES}


def test_priors_are_read_with_libyaml_when_available(priors_dir, monkeypatch):
    """Every priors file is parsed with libyaml's safe loader when PyYAML has it (fast, and still safe),
    extended only to refuse duplicate keys."""
    from bayesnet.data.priors import load_priors

    used = []
    real_load = yaml.load

    def spy(stream, Loader):
        used.append(Loader)
        return real_load(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "load", spy)
    load_priors(priors_dir)
    assert len(used) >= len(PRIOR_FILES)
    from bayesnet.data.priors import UniqueKeyLoader

    assert set(used) == {UniqueKeyLoader}
    assert issubclass(UniqueKeyLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _dump(data) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True)


def _write(directory, data):
    """Write the parsed priors files ``data`` into ``directory`` (its settings/ folder too)."""
    (directory / "settings").mkdir(parents=True, exist_ok=True)
    for name in PRIOR_FILES:
        (directory / name).write_text(_dump(data[name]), encoding="utf-8")


def _leaves(obj, path=()):
    """Every (path, value) leaf of nested dicts and lists."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    else:
        yield path, obj


def _set(obj, path, value):
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def _numeric_paths(data):
    return [(f, p) for f in PRIOR_FILES for p, v in _leaves(data[f])
            if isinstance(v, int | float) and not isinstance(v, bool)]


def _param_mappings(data):
    """Paths to every mapping that holds a sourced number (has 'value' and 'source')."""
    out = []

    def walk(f, obj, path):
        if isinstance(obj, dict):
            if "value" in obj and "source" in obj and isinstance(obj["value"], int | float):
                out.append((f, path))
            for k, v in obj.items():
                walk(f, v, (*path, k))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(f, v, (*path, i))

    for f in PRIOR_FILES:
        walk(f, data[f], ())
    return out


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def _load_and_use(directory: Path) -> None:
    """Load priors; if they load, every setting's model must give finite posteriors in [0, 1]."""
    try:
        ps = load_priors(directory)
    except PriorsError as exc:
        msg = str(exc)
        assert "\n" not in msg and ".yaml" in msg, msg
        return
    for setting in ps.settings:
        try:
            model = bayesnet.BackPainModel(ps, setting)
        except BayesNetError as exc:  # inconsistent numbers detected while building (named)
            assert str(exc)
            continue
        for ev in ({}, {"fever": "yes", "age_group": "70_plus"}, {"d_dimer": "negative", "history_of_cancer": "yes"}):
            try:
                post = model.marginals(ev)
            except ImpossibleEvidenceError:
                continue
            for c, dist in post.items():
                assert np.isfinite(dist).all() and ((dist >= 0) & (dist <= 1)).all(), (setting, c, dist)
                assert dist.sum() == pytest.approx(1.0, abs=1e-9)


HOSTILE_NUMBERS = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 1e-300, 0, 1, -1, 0.5, 2, 1e9,
                     1e-9, 1 - 1e-9, 5e-324, True, None, "0.3", "", [], {}, [0.1, 0.2], {"value": 0.1}]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=5),
)


def test_priors_hostile_values(prior_data, tmp_path_factory):
    paths = _numeric_paths(prior_data)
    base = tmp_path_factory.mktemp("priors_values")

    @few(4)
    @given(st.sampled_from(paths), HOSTILE_NUMBERS)
    def check(where, value):
        f, path = where
        data = copy.deepcopy(prior_data)
        _set(data[f], path, value)
        d = base / "p"
        d.mkdir(exist_ok=True)
        _write(d, data)
        _load_and_use(d)

    check()


# 1e-300 is left out here: it makes an effect's odds ratio astronomically large, which hits the
EXTREMES = [1e-9, 1 - 1e-9, 1e-20, 0.0, 1.0, 1e-15, 1 - 1e-15]


def test_priors_extreme_probabilities(prior_data, tmp_path_factory):
    """A sourced number set to an extreme (interval widened to contain it): a model or a named error."""
    params = _param_mappings(prior_data)
    base = tmp_path_factory.mktemp("priors_extreme")

    @few(4)
    @given(st.sampled_from(params), st.sampled_from(EXTREMES), st.sampled_from([1e-9, 1e9, 1.0]))
    def check(where, p, ratio):
        f, path = where
        data = copy.deepcopy(prior_data)
        spec = _get(data[f], path)
        kind = spec.get("kind")
        value = ratio if kind in ("odds_ratio", "relative_risk", "lr_positive", "lr_negative") else p
        spec["value"] = value
        if "low" in spec:
            spec["low"] = min(spec["low"], value)
            spec["high"] = max(spec["high"], value)
        d = base / "p"
        d.mkdir(exist_ok=True)
        _write(d, data)
        _load_and_use(d)

    check()


@pytest.mark.parametrize("where", ["relative_risk", "controls"])
def test_huge_odds_ratio_is_a_named_error(prior_data, tmp_path, where):
    data = copy.deepcopy(prior_data)
    conds = data["conditions.yaml"]["conditions"]
    if where == "relative_risk":
        spec = conds["multiple_myeloma"]["risk_factors"][0]
        spec.update(value=1e300, high=1e300)
    else:
        spec = conds["spinal_metastasis"]["risk_factors"][0]["controls"]
        spec.update(value=1e-300, low=1e-300)
    _write(tmp_path, data)
    ps = load_priors(tmp_path)  # accepted: a ratio only has to be positive
    with pytest.raises(PriorsError, match=r"conditions\.(multiple_myeloma|spinal_metastasis)"):
        bayesnet.BackPainModel(ps, "primary_care")


def test_priors_extreme_prevalences_stay_exact(prior_data, tmp_path):
    """Prevalences of 1e-9 for every condition: posteriors finite and equal to pgmpy's."""
    data = copy.deepcopy(prior_data)
    for setting in ("primary_care", "emergency"):
        for spec in data[f"settings/{setting}.yaml"]["conditions"].values():
            spec.update(value=1e-9, low=1e-10, high=spec["high"])
    for cond in data["conditions.yaml"]["conditions"].values():
        for cause in cond.get("caused_by") or []:
            cause.update(value=1e-12, low=1e-13, high=cause["high"])
    _write(tmp_path, data)
    ps = load_priors(tmp_path)
    for setting in ps.settings:
        model = bayesnet.BackPainModel(ps, setting)
        prior = model.prior_probabilities()
        assert all(0 < prior[c] < 1e-8 for c in model.serious_conditions), prior
        ev = {v: model.states[v][0] for v, k in model.tables.kinds.items() if k != "condition"}
        _assert_matches_pgmpy(model, ev)
        _check_ranking(model.diagnose({"fever": "yes", "iv_drug_use": "yes"}).ranking)


def test_priors_structure_mutations(prior_data, tmp_path_factory):
    """Keys deleted, renamed, or whole sections replaced by another type."""
    base = tmp_path_factory.mktemp("priors_struct")
    nodes = [(f, p) for f in PRIOR_FILES for p, _ in _leaves(prior_data[f]) if p]
    nodes += [(f, p[:-1]) for f, p in nodes if len(p) > 1]

    @few(4)
    @given(st.sampled_from(nodes), st.sampled_from(["delete", "rename", "replace"]),
           st.one_of(HOSTILE_NUMBERS, st.just({"unexpected": 1}), st.just(["a", "b"])))
    def check(where, action, value):
        f, path = where
        data = copy.deepcopy(prior_data)
        parent = _get(data[f], path[:-1])
        key = path[-1]
        if action == "delete":
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            parent[f"{key}_x" if isinstance(key, str) else str(key)] = parent.pop(key)
        else:
            parent[key] = value
        d = base / "p"
        d.mkdir(exist_ok=True)
        _write(d, data)
        _load_and_use(d)

    check()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "file is empty"),
        ("\n\n# only a comment\n", "file is empty"),
        ("- 1\n- 2\n", "top level must be a mapping"),
        ("42\n", "top level must be a mapping"),
        ("findings: [\n", "not valid YAML"),
        ("findings: {a: 1, b: [}\n", "not valid YAML"),
        ("\tfindings: 1\n", "not valid YAML"),
        ("findings: !!python/object/apply:os.system ['touch {marker}']\n", "not valid YAML"),
        ("findings: !!python/name:os.system\n", "not valid YAML"),
        ("findings: !!binary aGVsbG8=\nschema_version: 1\n", "findings"),
        ("findings: {x: {kind: finding, description: d, leak: .nan, links: {}}}\n", "findings.x.leak"),
    ],
)
def test_priors_hostile_files(priors_copy, text, match, tmp_path):
    marker = tmp_path / "executed"
    (priors_copy / "findings.yaml").write_text(text.replace("{marker}", str(marker)), encoding="utf-8")
    with pytest.raises(PriorsError, match=match) as info:
        load_priors(priors_copy)
    assert str(info.value).startswith("findings.yaml")
    assert not marker.exists(), "a YAML tag executed code"


def test_priors_binary_file(priors_copy):
    (priors_copy / "conditions.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(PriorsError, match="conditions.yaml"):
        load_priors(priors_copy)


def test_priors_deeply_nested_yaml(priors_copy):
    text = (priors_copy / "findings.yaml").read_text(encoding="utf-8")
    text = text.replace("note: 213/482; exact binomial interval", "note: " + "[" * 800 + "]" * 800, 1)
    (priors_copy / "findings.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PriorsError, match="findings.yaml"):
        load_priors(priors_copy)


def test_priors_note_must_be_text(priors_copy):
    levels = ['&a0 ["lol", "lol", "lol"]'] + [f"&a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 4)]
    text = (priors_copy / "findings.yaml").read_text(encoding="utf-8")
    text = text.replace("note: 213/482; exact binomial interval", "note: [" + ", ".join(levels) + "]", 1)
    (priors_copy / "findings.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PriorsError, match="note"):
        load_priors(priors_copy)


# --------------------------------------------------------------------------------------------
# the validation loader


def _check_loaded_scenarios(sc, data, priors, states):
    """What an accepted validation file must give: one well-formed scenario per entry, in order,
    naming only the model's variables and states (``states``: the built network's)."""
    from bayesnet.data.scenarios import Scenario

    assert [s.id for s in sc] == [e["id"] for e in data["scenarios"]]
    assert len({s.id for s in sc}) == len(sc)
    for s, entry in zip(sc, data["scenarios"], strict=True):
        assert isinstance(s, Scenario)
        assert s.setting == entry["setting"] and s.setting in priors.settings
        assert s.measure in ("probability", "likelihood_ratio")
        for var, chosen in {**s.evidence, **s.tests}.items():
            assert chosen and set(chosen) <= set(states[var]), (s.id, var, chosen)
        assert not set(s.target.variables) & (set(s.evidence) | set(s.tests))
        for var, chosen in s.target.items:
            assert chosen and set(chosen) <= set(states[var]), (s.id, var, chosen)
        pub = s.published
        assert pub.value == float(entry["published"]["value"])  # the file's number, carried through
        assert pub.low <= pub.value <= pub.high
        if s.measure == "probability":
            assert 0.0 <= pub.low and pub.high <= 1.0
        else:
            assert pub.low > 0.0 and s.tests


def test_validation_loader_fuzz(priors, models, tmp_path_factory):
    from bayesnet.data.scenarios import ValidationFileError, default_validation_path, load_validation

    data = yaml.safe_load(default_validation_path().read_text(encoding="utf-8"))
    nodes = [p for p, _ in _leaves(data) if p]
    nodes += [p[:-1] for p in nodes if len(p) > 1]
    base = tmp_path_factory.mktemp("validation")

    @few(2)
    @given(st.sampled_from(nodes), st.sampled_from(["delete", "replace"]),
           st.one_of(HOSTILE_NUMBERS, st.just({"fever": "yes"}), st.just(["dvt"]), st.just("fevr")))
    def check(path, action, value):
        d = copy.deepcopy(data)
        parent = _get(d, path[:-1])
        if action == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
        p = base / "v.yaml"
        p.write_text(_dump(d), encoding="utf-8")
        try:
            sc = load_validation(p, priors)
        except ValidationFileError as exc:
            assert str(exc).startswith("v.yaml") and "\n" not in str(exc)
            return
        _check_loaded_scenarios(sc, d, priors, models["primary_care"].states)

    check()


def test_validation_file_tags_are_refused(priors, tmp_path):
    from bayesnet.data.scenarios import ValidationFileError, load_validation

    marker = tmp_path / "executed"
    p = tmp_path / "v.yaml"
    p.write_text(f"scenarios: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8")
    with pytest.raises(ValidationFileError, match="not valid YAML"):
        load_validation(p, priors)
    assert not marker.exists()


def test_no_executable_file_format_is_read(priors_dir):
    """The package reads YAML (safe), CSV and Parquet only: no pickle, no eval."""
    pkg = Path(bayesnet.__file__).parent
    for src in pkg.glob("*.py"):
        text = src.read_text(encoding="utf-8")
        for bad in ("pickle.load", "yaml.load(", "yaml.unsafe_load", "yaml.full_load", "eval(", "exec(",
                    "marshal.load", "shelve.open", "allow_pickle=True", "read_pickle"):
            if bad == "yaml.load(" and "issubclass(loader, _SAFE_LOADERS)" in text:
                continue  # bayesnet.data.priors.read_yaml_mapping: refuses any loader but the safe ones
            assert bad not in text, (src.name, bad)
    assert not any(p.suffix in (".pkl", ".pickle", ".npy", ".joblib") for p in priors_dir.rglob("*"))
