"""Write the notebooks of this folder from the cell sources below (outputs stripped).

Edit the cells here, then run ``python notebooks/_build.py`` and commit the ``.ipynb`` files;
``tests/test_notebooks.py`` executes every notebook. Keeping the sources in one script keeps the
notebooks free of outputs and execution counts, and their diffs readable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    return new_code_cell(text.strip("\n"))


QUICKSTART = [
    md("""
# 1. Quickstart: diagnose, explain, next test, how sure

bayesnet is a Bayesian network linking **risk factors → conditions → findings and tests** for the
serious causes of back pain. Given what is known about a patient it ranks the conditions, explains
the ranking, proposes the most informative next observation and says how sure it can be given the
uncertainty of the published numbers it rests on.

*bayesnet is a research and teaching tool, not a medical device: do not use it to make decisions
about real patients.*
"""),
    code("""
import bayesnet
from bayesnet.present import plots

model = bayesnet.load_model(setting="primary_care")   # or "emergency"
model
"""),
    md("Every variable, with its layer (`kind`), states and parents:"),
    code("""
variables = model.variables()
variables.groupby("kind", sort=False).size()
"""),
    code("""
variables.head(8)
"""),
    md("""
## Diagnose

Evidence is a dict `{variable: state}`. In Jupyter a diagnosis shows as a table with probability
bars: prior, posterior and the likelihood ratio (posterior odds / prior odds) of each condition.
"""),
    code("""
patient = {
    "history_of_cancer": "yes",
    "age_group": "70_plus",
    "unexplained_weight_loss": "yes",
    "failure_to_improve": "yes",
}
dx = model.diagnose(patient)
dx
"""),
    code("""
dx.ranking            # the same as a DataFrame
"""),
    md("""
## Why? Explanation, summary and waterfall

`explain` removes each finding in turn: its *contribution* is the change in log-odds it causes given
the rest of the evidence.
"""),
    code("""
ex = dx.explain("spinal_metastasis")
ex  # a DataFrame; in Jupyter it displays as the formatted table
"""),
    code("""
print(dx.summary("spinal_metastasis"))
"""),
    code("""
ax = plots.waterfall(ex)
"""),
    md("""
A finding reported with uncertainty (the patient *thinks* they lost weight) is soft evidence: a
dict of likelihoods instead of a state.
"""),
    code("""
unsure = dict(patient, unexplained_weight_loss={"yes": 0.7, "no": 0.3})
model.diagnose(unsure).ranking.loc["spinal_metastasis", ["prior", "posterior"]]
"""),
    md("""
## What to ask or test next

Every unobserved finding and test is scored by the expected fall in uncertainty over the serious
conditions (bits), the expected change in the focus condition, and (with a `threshold`) the
probability that its result moves the focus across that threshold.
"""),
    code("""
nt = model.next_tests(patient, threshold=0.5)
nt
"""),
    code("""
ax = plots.next_tests(nt, top=10)
"""),
    md("""
## How sure?

Every number in the network has a published (or expert) interval. `uncertainty` redraws all of them
and gives a 95% interval for each posterior.
"""),
    code("""
unc = model.uncertainty(patient, draws=500, seed=0)
unc
"""),
    code("""
ax = plots.intervals(unc)
"""),
    md("""
The same from the command line:

```bash
bayesnet diagnose -e history_of_cancer=yes -e age_group=70_plus -e unexplained_weight_loss=yes -e failure_to_improve=yes
bayesnet explain -e history_of_cancer=yes -e age_group=70_plus -c spinal_metastasis
bayesnet next-test -e history_of_cancer=yes -e age_group=70_plus --threshold 0.5
```
"""),
]


RED_FLAGS = [
    md("""
# 2. Teaching: the red flags, one at a time

Guidelines list "red flags" that should make a clinician think beyond mechanical back pain. Here
each group of red flags is added one finding at a time, to see how each moves the ranking of the
serious conditions, and why.
"""),
    code("""
import matplotlib.pyplot as plt
import pandas as pd

import bayesnet
from bayesnet.present import plots
from bayesnet.formatting import format_probability

model = bayesnet.load_model()
serious = model.serious_conditions
"""),
    md("""
## The network

Risk factors cause conditions; conditions cause findings and test results. Mechanical pain is the
absence of every modelled condition, serious or not. Each layer has its colour; a dotted link skips a layer.
"""),
    code("""
ax = plots.network(model)
"""),
    md("""
## A helper: add findings one by one

`walk` builds one scenario per step (each adding one finding to the previous ones), scores them all
in one batch with `model.posteriors`, and plots every serious condition on a log scale.
"""),
    code("""
def walk(steps, focus, title):
    rows, evidence = [], {}
    for name, state in steps:
        evidence = {**evidence, name: state}
        rows.append(dict(evidence))
    labels = ["(nothing known)"] + [f"+ {n.replace('_', ' ')} = {s}" for n, s in steps]
    scenarios = pd.DataFrame([{}] + rows)
    post = model.posteriors(scenarios)[serious]
    post.index = labels
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    for c in serious:
        style = {"color": "black", "lw": 2.5} if c == focus else {"lw": 1, "alpha": 0.6}
        ax.plot(range(len(post)), post[c], marker="o", label=c.replace("_", " "), **style)
    ax.set_xticks(range(len(post)), labels, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("posterior (log scale)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    plt.show()
    return post.map(format_probability)   # the table behind the plot, as percentages
"""),
    md("""
## 1. Cancer

History of cancer is the strongest single red flag for spinal metastasis; age, weight loss and
failure to improve add to it; an MRI suggesting malignancy all but settles it.
"""),
    code("""
cancer = [("age_group", "70_plus"), ("history_of_cancer", "yes"), ("unexplained_weight_loss", "yes"),
          ("failure_to_improve", "yes"), ("mri_malignancy", "positive")]
walk(cancer, "spinal_metastasis", "Cancer red flags")
"""),
    code("""
dx = model.diagnose(dict(cancer[:4]))
print(dx.summary("spinal_metastasis"))
"""),
    md("""
## 2. Clot (deep vein thrombosis, pulmonary embolism)

Back pain is rarely a clot, but a swollen leg after surgery or immobilisation changes that, and
dyspnoea with pleuritic chest pain points to an embolism. A negative D-dimer rules out a great deal.
"""),
    code("""
clot = [("recent_surgery_or_immobilisation", "yes"), ("unilateral_leg_swelling", "yes"), ("dyspnoea", "yes"),
        ("pleuritic_chest_pain", "yes"), ("d_dimer", "negative")]
walk(clot, "pulmonary_embolism", "Clot red flags, then a negative D-dimer")
"""),
    code("""
dx = model.diagnose(dict(clot))
dx.explain("pulmonary_embolism")
"""),
    md("""
## 3. Infection (epidural abscess, vertebral osteomyelitis)
"""),
    code("""
infection = [("iv_drug_use", "yes"), ("fever", "yes"), ("spinal_tenderness", "yes"), ("esr_crp", "elevated"),
             ("mri_epidural_collection", "positive")]
walk(infection, "epidural_abscess", "Infection red flags")
"""),
    code("""
dx = model.diagnose(dict(infection[:3]))
model.next_tests(dx.evidence.hard)
"""),
    md("""
## 4. Fracture

Age, female sex, long-term corticosteroids and osteoporosis raise the chance of an osteoporotic
compression fracture; an X-ray confirms it.
"""),
    code("""
fracture = [("age_group", "70_plus"), ("sex", "female"), ("corticosteroid_use", "yes"), ("osteoporosis", "yes"),
            ("spinal_tenderness", "yes"), ("xray_fracture", "positive")]
walk(fracture, "compression_fracture", "Fracture red flags")
"""),
    md("""
## 5. Cauda equina syndrome

Saddle anaesthesia and urinary retention are the classic pair; the MRI shows the compression.
"""),
    code("""
cauda = [("saddle_anaesthesia", "yes"), ("urinary_retention", "yes"), ("neuro_deficit", "yes"),
         ("mri_compression", "positive")]
walk(cauda, "cauda_equina_syndrome", "Cauda equina red flags")
"""),
    md("""
The same patient drawn on the network: observed nodes are bold, each condition carries a bar of its
posterior (the tick marks its prior). The likely *causes* of the compression (abscess, metastasis,
fracture) have moved too: evidence flows back up the arrows.
"""),
    code("""
ax = plots.network(model, dict(cauda[:3]))
"""),
    md("""
## The same flags in the emergency department

Pre-test probabilities are higher in the emergency setting, so the same findings end higher.
"""),
    code("""
both = model.what_if({"saddle_anaesthesia": ["yes"], "urinary_retention": ["yes"]},
                     settings=["primary_care", "emergency"], conditions="cauda_equina_syndrome")
both[["setting", "prior", "posterior", "likelihood_ratio"]]
"""),
    md("""
## 6. Not the spine at all

Some back pain comes from the kidney, the aorta or a tumour outside the conditions above. The model
has six such conditions: pyelonephritis, renal colic (the only one that is *not* serious), aortic
aneurysm or dissection, renal vein thrombosis, lymphoma and primary spinal tumour; `mechanical_pain`
now means that *no* modelled condition, serious or not, explains the pain. In the emergency
department, with nothing known yet about the patient:
"""),
    code("""
ed = bayesnet.load_model(setting="emergency")
LOVEGROVE_NON_SPECIFIC = 0.438   # muscular or non-specific: 43.8% of 22,655 emergency back-pain presentations
nothing = pd.DataFrame({"primary_care": model.diagnose({}).ranking["posterior"],
                        "emergency": ed.diagnose({}).ranking["posterior"]})
print("no modelled condition (emergency model):", format_probability(nothing.loc["mechanical_pain", "emergency"]),
      "| muscular or non-specific (Lovegrove 2011):", format_probability(LOVEGROVE_NON_SPECIFIC))
nothing.sort_values("emergency", ascending=False).head(6).map(format_probability)
"""),
    md("""
In the emergency setting the kidney accounts for a large share of back pain: renal colic 30% and
pyelonephritis 10.5% (10 of 95 truncal back pains in one Japanese emergency department, Nagayama
2014), against at most a few per cent for any spinal condition. The renal colic figure is an expert estimate
(grade C, range 10-66%) bounded by two studies: ureterolithiasis in 53 of those 95 patients
(Nagayama 2014), and Lovegrove 2011, where only 43.8% of 22,655 emergency back-pain presentations were
muscular or non-specific. The model leaves more unexplained than that (about 60%, printed above): it
sets renal colic below the Japanese figure because many departments triage typical colic as flank or
abdominal pain. The conditions can coexist, so a column need not sum to 100%. In primary care the
same conditions are rare.

### A woman with flank pain, dysuria and a positive urinalysis

One finding at a time. `dx.leading_serious` is the most probable *serious* condition, the one that
`next_tests` and `bayesnet explain` focus on by default.
"""),
    code("""
woman = [("sex", "female"), ("flank_pain", "yes"), ("dysuria", "yes"), ("urinalysis", "positive")]
rows, evidence = [], {}
for name, state in [(None, None)] + woman:
    if name is not None:
        evidence = {**evidence, name: state}
    dx = ed.diagnose(evidence)
    rows.append({"step": f"+ {name.replace('_', ' ')} = {state}" if name else "(nothing known)",
                 "most probable": dx.ranking.index[0], "dx.leading_serious": dx.leading_serious,
                 **{c: format_probability(dx.ranking.loc[c, "posterior"])
                    for c in ("pyelonephritis", "renal_colic", "mechanical_pain")}})
pd.DataFrame(rows).set_index("step")
"""),
    md("""
Flank pain alone makes renal colic the most probable condition, but renal colic is not serious:
`dx.leading_serious` skips it and names pyelonephritis. Dysuria (present in 56 of 119 women with
pyelonephritis, Piccoli 2011) then puts pyelonephritis first, and a positive dipstick (sensitivity
77.5%, pyuria in 303 of 391 cases, Song 2022; specificity 86%, Deville 2004) adds to it. Renal colic
is not ruled out (the model lets a stone and an infection coexist), but it no longer explains the findings
better than the infection does; the chance that nothing modelled explains them falls below 1%. What
each finding did to pyelonephritis:
"""),
    code("""
dx = ed.diagnose(dict(woman))
dx.explain("pyelonephritis")
"""),
    md("""
### A man over 70 with sudden pain and a faint

Abrupt onset is reported in 84% of aortic dissections (sensitivity, Klompas 2002, 21 series) and
syncope in 27.8% of ruptured abdominal aortic aneurysms (Fernando 2022, 2,077 patients). The
emergency-setting prevalence, 0.3%, is one leaking aneurysm graft among 329 emergency low-back-pain
patients in Ottawa (Thiruganasambandamoorthy 2014); male sex and age raise it before any finding.
"""),
    code("""
man = {"sex": "male", "age_group": "70_plus", "sudden_onset": "yes", "syncope": "yes"}
dx = ed.diagnose(man)
print("leading serious:", dx.leading_serious, format_probability(dx.ranking.loc[dx.leading_serious, "posterior"]))
ed.next_tests(man)
"""),
    md("""
Aortic aneurysm becomes the leading serious condition, and `next_tests` ranks CT angiography
(`ct_abdomen_aorta`; sensitivity 91.4%, specificity 93.6% for a ruptured aneurysm, Fernando 2022)
first: its result column shows where each result would leave the aneurysm. The other candidates
barely move it. Two limits of the model: renal colic, which often starts abruptly too, is not linked
to sudden onset (no figure was found; it is counted in the false-positive rate), and the syncope
figure comes from aneurysm rupture, not dissection.

### A stone on CT

Flank pain alone, then a non-contrast CT (CT KUB) showing a stone (sensitivity 96.6%, specificity
94.9%, Niemann 2008):
"""),
    code("""
flank = {"flank_pain": "yes"}
stone = {**flank, "ct_abdomen_stone": "positive"}
shown = ["renal_colic", "pyelonephritis", "mechanical_pain", "aortic_aneurysm"]
pd.DataFrame({"prior": ed.diagnose({}).ranking["posterior"],
              "flank pain": ed.diagnose(flank).ranking["posterior"],
              "+ stone on CT": ed.diagnose(stone).ranking["posterior"]}).loc[shown].map(format_probability)
"""),
    md("""
The stone explains the pain: renal colic becomes all but certain, the chance that no modelled
condition explains the pain falls to about 1%, and pyelonephritis, which the flank pain had raised,
falls back towards its prior: the stone accounts for the flank pain, so the flank pain no longer
counts for the infection (explaining away). It is not ruled out: the model lets both be present.
Renal colic being non-serious, `leading_serious` would still name pyelonephritis here.
"""),
]


WHAT_IF = [
    md("""
# 3. Batch scoring and what-if analyses

Many scenarios at once: a grid of scenarios crossed with both settings, a heatmap, a sweep, and a
synthetic cohort for population-level questions.
"""),
    code("""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import bayesnet
from bayesnet.formatting import format_probability
from bayesnet.present import plots

model = bayesnet.load_model()
"""),
    md("""
## A table of scenarios

One row per scenario, one column per variable; NaN/None means not observed. `errors="report"` keeps
going past bad rows and says what is wrong with them.
"""),
    code("""
scenarios = pd.DataFrame({
    "fever": ["yes", "yes", None, "maybe"],
    "iv_drug_use": ["yes", "no", "yes", "yes"],
    "age_group": [None, "70_plus", None, None],
})
model.posteriors(scenarios, errors="report")[["epidural_abscess", "vertebral_osteomyelitis", "error"]]
"""),
    md("""
## A grid crossed with both settings

`what_if` builds every combination of the listed variables' states, scores it in each setting and
returns a tidy table.
"""),
    code("""
grid = model.what_if(["history_of_cancer", "unexplained_weight_loss", "age_group"],
                     settings=["primary_care", "emergency"], conditions="spinal_metastasis")
grid.head()
"""),
    code("""
table = grid.pivot_table(index=["history_of_cancer", "unexplained_weight_loss"], columns=["setting", "age_group"],
                         values="posterior", observed=True)
table.map(format_probability)
"""),
    code("""
settings = ["primary_care", "emergency"]
plots.what_if_heatmap(grid, rows=["history_of_cancer", "unexplained_weight_loss"], columns=["age_group"]);
"""),
    md("""
## Settings compared

The same infection scenarios in primary care and in the emergency department: the likelihood
ratio of the evidence is almost the same; the pre-test probability is not.
"""),
    code("""
inf = model.what_if(["fever", "iv_drug_use"], settings=settings, conditions=["epidural_abscess"])
inf.pivot_table(index=["fever", "iv_drug_use"], columns="setting", values=["posterior", "likelihood_ratio"],
                observed=True).round(4)
"""),
    md("""
## A sweep

How every serious condition moves with age, for a patient with a history of cancer.
"""),
    code("""
sw = model.sweep("age_group", evidence={"history_of_cancer": "yes"}, conditions=model.serious_conditions)
plots.sweep(sw);
"""),
    md("""
## A synthetic cohort

`sample_cohort` draws patients from the network: risk factors, the true conditions, findings and
test results. Population-level questions then become counting.

**How often would a simple red-flag rule fire, and how many metastases would it catch?**
Rule: history of cancer, unexplained weight loss or failure to improve.
"""),
    code("""
cohort = model.sample_cohort(300_000, seed=0)
rule = ((cohort["history_of_cancer"] == "yes") | (cohort["unexplained_weight_loss"] == "yes")
        | (cohort["failure_to_improve"] == "yes"))
has = cohort["spinal_metastasis"] == "yes"
pd.Series({
    "patients": len(cohort),
    "rule fires in": f"{rule.mean():.1%}",
    "metastases": int(has.sum()),
    "caught by the rule (sensitivity)": f"{(rule & has).sum() / has.sum():.1%}",
    "metastasis when the rule fires (PPV)": f"{(rule & has).sum() / rule.sum():.2%}",
})
"""),
    md("""
**Is the model calibrated on its own cohort?** Hide the truth, score a sample, and compare the mean
posterior with the observed frequency in bins (it should be, up to Monte Carlo noise: this checks
the machinery, not the real world).
"""),
    code("""
sample = cohort.iloc[:30_000]
post = model.posteriors(sample.drop(columns=model.conditions))
p, truth = post["spinal_metastasis"], sample["spinal_metastasis"] == "yes"
bins = pd.cut(p, [0, 0.001, 0.003, 0.01, 0.03, 0.1, 1.0])
pd.DataFrame({"patients": truth.groupby(bins, observed=True).size(),
              "mean posterior": p.groupby(bins, observed=True).mean(),
              "observed": truth.groupby(bins, observed=True).mean()}).round(4)
"""),
]


UNCERTAINTY = [
    md("""
# 4. Uncertainty and sensitivity

Every number behind the network has a source and, where published, a 95% interval (expert
estimates carry deliberately wide ones). How much do the answers depend on them?
"""),
    code("""
import pandas as pd

import bayesnet
from bayesnet.present import plots
from bayesnet.formatting import format_probability

model = bayesnet.load_model()
cancer = {"history_of_cancer": "yes", "age_group": "70_plus", "unexplained_weight_loss": "yes"}
clot = {"unilateral_leg_swelling": "yes", "dyspnoea": "yes"}
"""),
    md("""
## Intervals on the posteriors

All parameters are redrawn together from distributions fitted to their intervals; the tables are
rebuilt and solved exactly for every draw. Same seed, same intervals.
"""),
    code("""
unc = model.uncertainty(cancer, draws=1000, seed=0)
unc
"""),
    code("""
ax = plots.intervals(unc)
"""),
    md("""
Some draws break a rule the network needs (for example a sensitivity below the false-positive rate)
and are redrawn; the counts are kept in `attrs`:
"""),
    code("""
pd.Series(unc.attrs["redrawn"]).sort_values(ascending=False).head(5)
"""),
    md("Intervals for several scenarios at once:"),
    code("""
scenarios = pd.DataFrame([cancer, clot, {"iv_drug_use": "yes", "fever": "yes"}], index=["cancer", "clot", "infection"])
batch = model.uncertainty_batch(scenarios, draws=300, seed=0)
batch.xs("epidural_abscess", axis=1, level=0).map(format_probability)
"""),
    md("""
## Which numbers matter: one-way sensitivity (tornado)

Each number moved to both ends of its interval, the others at their estimates.
"""),
    code("""
tor = model.sensitivity(clot, "pulmonary_embolism")
tor
"""),
    code("""
ax = plots.tornado(tor, top=10)
"""),
    md("How much of the swing comes from expert estimates (grade C)?"),
    code("""
tor.groupby("grade")["swing"].agg(["count", "max"]).round(4)
"""),
    md("""
## The most probable combinations of conditions

Conditions are not mutually exclusive: metastasis can cause a fracture that compresses the cauda
equina. `most_probable` lists the most probable joint states of all conditions.
"""),
    code("""
model.most_probable(cancer, k=5)
"""),
]


ENGINE = [
    md("""
# 5. The engine against pgmpy and pyAgrum

`bayesnet.inference.engine.compile_network` compiles any pgmpy `DiscreteBayesianNetwork` into a junction tree
that answers many evidence scenarios at once, exactly. Here it is checked against pgmpy's variable
elimination and pyAgrum's lazy propagation on networks bundled with pgmpy, on random evidence.
"""),
    md("""
The benchmark harness lives in `benchmarks/harness.py` of the checkout (it is not part of the installed
package), so the repository root goes on the import path first; the notebook runs from `notebooks/`.
"""),
    code("""
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path.cwd().parent  # the checkout: this notebook runs from notebooks/
if not (ROOT / "benchmarks" / "harness.py").is_file():
    raise FileNotFoundError(f"run this notebook from the notebooks/ folder of a checkout (no {ROOT / 'benchmarks'})")
sys.path.insert(0, str(ROOT))

import bayesnet
from benchmarks import harness as bench
from bayesnet.present import plots
from bayesnet.inference.engine import compile_network

try:
    import pyagrum as gum
except ImportError:  # older pyAgrum releases
    import pyAgrum as gum

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pgmpy.inference import VariableElimination
"""),
    md("A bundled reference network, drawn in its topological layers:"),
    code("""
asia = bench.load_reference("asia")
ax = plots.network(asia)
"""),
    md("""
## Agreement on random evidence

`mixed_scenarios` forward-samples full configurations and observes a random subset of each, so
every scenario is possible. The engine computes the posteriors of up to ten target variables (the
conditions, for the back-pain model) for all scenarios in one batch; pgmpy and pyAgrum answer row
by row.
"""),
    code("""
def agreement(network, name, n=25, seed=0, targets=None, observable=None):
    net = compile_network(network)
    targets = list(targets) if targets is not None else bench.pick_targets(network, k=10)
    scen = bench.mixed_scenarios(network, n, seed=seed, observable=observable)[net.variables]
    post = net.posteriors(scen, targets=targets)
    ve = VariableElimination(network)
    ie = gum.LazyPropagation(bench.to_pyagrum(network))
    d_pgmpy = d_agrum = 0.0
    for i, row in enumerate(scen.to_dict("records")):
        ev = {k: v for k, v in row.items() if isinstance(v, str)}
        free = [v for v in targets if v not in ev]
        if not free:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = ve.query(free, evidence=ev, joint=False, show_progress=False)
        ie.eraseAllEvidence()
        if ev:
            ie.setEvidence({str(k): str(v) for k, v in ev.items()})
        ie.makeInference()
        for v in free:
            ours = post.iloc[i][v].to_numpy()
            q = ref[v]
            theirs = np.array([q.values[q.state_names[v].index(s)] for s in net.states[v]])
            d_pgmpy = max(d_pgmpy, float(np.abs(ours - theirs).max()))
            p = ie.posterior(str(v))
            labels = list(p.variable(0).labels())
            ag = p.toarray()
            d_agrum = max(d_agrum, float(np.abs(ours - np.array([ag[labels.index(s)] for s in net.states[v]])).max()))
    return {"network": name, "nodes": len(net.variables), "targets": len(targets), "max clique": net.max_clique_size,
            "scenarios": n, "max |engine - pgmpy|": d_pgmpy, "max |engine - pyAgrum|": d_agrum}

model = bayesnet.load_model()
findings = [v for v, k in model.tables.kinds.items() if k != "condition"]
rows = [agreement(model.network, "back_pain", n=20, targets=model.conditions, observable=findings)]
rows += [agreement(bench.load_reference(name), name) for name in ("asia", "sachs", "alarm")]
pd.DataFrame(rows).set_index("network")
"""),
    md("""
## A small timing table

Rows per second for the same scenarios and targets (the engine on all rows, vectorised; pgmpy and
pyAgrum on the first rows, one query per row). Kept small here; `bayesnet bench` runs the full
benchmark.
"""),
    code("""
results = [bench.bench_back_pain(n_rows=3000, n_ref=10, n_single=20)]
for name in ("asia", "alarm"):
    results.append(bench.bench_network(bench.load_reference(name), name, n_rows=3000, n_ref=10, n_single=20))
timing = pd.DataFrame(results).set_index("network")
timing[["nodes", "max_clique", "engine_rows_per_s", "pyagrum_rows_per_s", "pgmpy_rows_per_s", "vs_pgmpy",
        "max_abs_diff_pgmpy"]].round(1)
"""),
    code("""
print(bench.format_table(results, bench.machine()))
"""),
]

# ---- 06: red-flag rules on synthetic cohorts (issue 16) ------------------------------------------
RED_FLAG_RULES = [
    md("""
# 6. Red-flag rules judged on synthetic cohorts

How would a guideline's red flags perform in a given population? A *rule* is a boolean
combination of observable variables (risk factors, findings, tests). `evaluate_rule` computes,
in the model's setting and for every serious condition and for "any serious condition", the
rule's sensitivity, specificity, positive and negative predictive values, the share of patients
it flags and the number flagged per serious case found: exactly from the network, with 95%
intervals from the uncertainty of the published numbers and, optionally, from the sampling of a
study of `n` patients.

*bayesnet is a research and teaching tool, not a medical device.*
"""),
    code("""
import bayesnet
import pandas as pd
from bayesnet.present import rules as rules_view   # registers the tables' display
from bayesnet.reasoning.rules import evaluate_rule, load_rule, shipped_rules

model = bayesnet.load_model(setting="primary_care")
list(shipped_rules())
"""),
    md("""
Four published rules ship in `priors/rules/`, each with its citation and the mapping of every
published item to the model's variables; items with no variable are listed (and left out).
"""),
    code("""
deyo = load_rule("deyo_diehl_1988", model)
print(deyo.describe())
pd.DataFrame(deyo.items)
"""),
    md("""
## The rules side by side

200 parameter draws keep this notebook quick (use 1,000 for a report); `cohort_size=1000` makes
each interval the range a study of 1,000 patients would find (parameter and sampling
uncertainty together).
"""),
    code("""
res = evaluate_rule(model, list(shipped_rules()), draws=200, seed=0, cohort_size=1000)
res.compare("any_serious").round(4)
"""),
    code("""
res      # every condition, rule by rule
"""),
    md("""
## Decision curve

Net benefit `TP/N - FP/N * pt/(1-pt)` (Vickers & Elkin 2006) across threshold probabilities
`pt`, against flagging everyone and flagging no one. A rule's curve crosses zero at its PPV.
"""),
    code("""
ax = rules_view.decision_curve_plot(res)
"""),
    md("""
## A rule of your own, and a sampled cohort

A rule can be a mapping (or a YAML/JSON file of the same form). `cohort=N` also draws `N`
patients by forward sampling and counts the metrics in them, with exact binomial intervals: the
counted values agree with the exact ones within sampling error.
"""),
    code("""
mine = {"name": "cancer history, or 70+ with weight loss",
        "rule": {"any": [{"history_of_cancer": "yes"},
                         {"all": [{"age_group": "70_plus"}, {"unexplained_weight_loss": "yes"}]}]}}
own = evaluate_rule(model, mine, draws=0, cohort=200_000, seed=1)
exact = own.metrics.set_index(["condition", "metric"])["value"].rename("exact")
counted = own.cohort.set_index(["condition", "metric"])[["value", "low", "high"]]
counted.join(exact).loc["spinal_metastasis"].round(4)
"""),
    md("""
## PERC where it was made

The pulmonary embolism rule-out criteria were derived among emergency patients tested for PE;
in that setting (`emergency_suspected_pe`) its sensitivity for embolism is what matters.
"""),
    code("""
pe_model = bayesnet.load_model(setting="emergency_suspected_pe")
perc = evaluate_rule(pe_model, "perc_kline_2004", draws=200, seed=0)
perc.table.xs("PERC (Kline 2004)", level="rule").loc[["pulmonary_embolism", "dvt", "any_serious"]].round(3)
"""),
]

RECALIBRATION = [
    md("""
# 7. Recalibration: your own counts update the published numbers

Every number in the network comes from a publication, measured in some population. A clinic, an
emergency department or a research cohort has its own counts: how many of its patients had a
pulmonary embolism, how many confirmed cases the CT angiogram found. `model.recalibrate(counts)`
treats each published value and interval as the **prior**, updates it with your counts
(conjugate where it can be: a Beta for a probability, a Dirichlet for the age bands or sex, a
normal on the log scale for an odds ratio), and returns a new model with a report of what moved.
The new numbers save as a setting file that loads like any shipped setting.

*bayesnet is a research and teaching tool, not a medical device.*
"""),
    code("""
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

import bayesnet
from bayesnet.present import recalibration as recal_display  # the report's text and HTML tables

workdir = Path(tempfile.mkdtemp())
model = bayesnet.load_model("emergency_suspected_pe")
model
"""),
    md("""
## A table of counts

One row per number: `node`, `parameter` (as in `model.sources()`; the setting's suffix may be left
out), `events` and `total`. What `events` counts is what the number measures: patients with the
condition for a prevalence, positives among confirmed cases for a sensitivity, negatives among
non-cases for a specificity; a row per state for the sex or age distribution. A ratio takes two
groups (`events_ref`, `total_ref`): here 70-year-olds against under-50s.
"""),
    code("""
counts = pd.DataFrame(
    [
        ("pulmonary_embolism", "prevalence", 61, 900, None, None),
        ("ctpa", "sensitivity[pulmonary_embolism]", 44, 58, None, None),
        ("d_dimer", "leak[age_group=50_to_69]", 190, 330, None, None),   # negatives among 50-69 year-olds without a clot
        ("sex", "prevalence[female]", 560, 900, None, None),
        ("sex", "prevalence[male]", 340, 900, None, None),
        ("pulmonary_embolism", "relative_risk[age_group=70_plus]", 14, 110, 9, 460),
    ],
    columns=["node", "parameter", "events", "total", "events_ref", "total_ref"],
)
res = model.recalibrate(counts, label="ED audit 2026")
res
"""),
    md("""
**posterior** is the restated number: the median of the updated distribution (the mean for sex,
so that the states sum to one) and its 95% interval. **weight** is the data's share of the
posterior's information: the published PE prevalence rests on 2,302 patients, so 900 more move it
only part of the way; the CT sensitivity's interval is wide, so 58 cases move it further. **grade**
becomes A where your counts carry at least half the information, otherwise the published grade
stays. The full report has the fitted prior and the posterior's parameters:
"""),
    code("""
res.report[["node", "parameter", "prior_value", "prior_low", "prior_high", "prior_fit_low", "prior_fit_high",
            "prior_a", "prior_b", "posterior_a", "posterior_b", "data_weight"]].round(4)
"""),
    md("""
`prior_fit_low`/`prior_fit_high` are the fitted Beta's own 95% interval: a Beta has two parameters,
so it matches the published value and interval exactly only when the interval is symmetric on the
logit scale; the fit is a least-squares compromise (on the logit scale, the median weighted twice).

## The new model

`res.model` is the same setting with the moved numbers restated; everything else is unchanged.
The posteriors follow:
"""),
    code("""
patient = {"dyspnoea": "yes", "pleuritic_chest_pain": "yes", "age_group": "50_to_69", "d_dimer": "positive"}
pd.DataFrame({
    "published": model.diagnose(patient).ranking["posterior"],
    "recalibrated": res.model.diagnose(patient).ranking["posterior"],
}).loc[["pulmonary_embolism", "dvt", "mechanical_pain"]].map(bayesnet.formatting.format_probability)
"""),
    md("""
## Saved as a setting file

`res.save(path)` writes a setting `based_on` the original one that restates only the moved numbers;
each says where it came from (`recalibrated from <data> (k/n) on the prior <original source>`), and
its note records the prior and the update. The file is loaded and its network compared with
`res.model` before it is written, so a file that would not load is never left behind. It is used
like any setting: `bayesnet.load_model(path)`, `bayesnet diagnose --setting our_ed.yaml`.
"""),
    code("""
path = res.save(workdir / "our_ed.yaml")
print("\\n".join(path.read_text().splitlines()[:30]))
"""),
    code("""
ours = bayesnet.load_model(path)
ours.sources().query("source.str.startswith('recalibrated')")[["node", "parameter", "value", "low", "high", "grade"]]
"""),
    md("""
## Patient-level rows

Give one row per patient instead (columns are variables, empty = not observed) and the counts are
tabulated in the network's own populations: a sensitivity among the cases of its condition, a
false-positive rate among the patients with none of the linked conditions, a prevalence by age
band within the band. Here the rows are drawn from a made-up clinic whose PE prevalence (8%) and CT
sensitivity (72%) differ from the published ones, written as a setting file:
"""),
    code("""
clinic = {
    "description": "A made-up clinic, for this notebook.", "based_on": "emergency_suspected_pe", "schema_version": 2,
    "conditions": {"pulmonary_embolism": {"value": 0.08, "source": "made up", "setting": "made up", "grade": "C"},
                   # three quarters of embolisms come from a leg clot: more embolism needs more DVT
                   "dvt": {"value": 0.1, "source": "made up", "setting": "made up", "grade": "C"}},
    "findings": {"ctpa": {"links": {"pulmonary_embolism": {"kind": "sensitivity", "value": 0.72, "source": "made up",
                                                            "setting": "made up", "grade": "C"}}}},
}
(workdir / "clinic_truth.yaml").write_text(yaml.safe_dump(clinic))
truth = bayesnet.load_model(workdir / "clinic_truth.yaml")
rows = truth.sample_cohort(4000, seed=1, columns=["age_group", "sex", "pulmonary_embolism", "ctpa", "d_dimer", "dvt"])
rows.head()
"""),
    code("""
from_rows = model.recalibrate(rows, parameters=["pulmonary_embolism:prevalence", "ctpa:sensitivity[pulmonary_embolism]"],
                              label="clinic rows")
from_rows
"""),
    md("""
Both numbers move from the published values towards the clinic's (8%, 72%); how far depends on how
much the published numbers already knew. Without `parameters`, every probability whose population
the rows observe completely is counted; the others are listed in `.skipped` with the reason:
"""),
    code("""
everything = model.recalibrate(rows, label="clinic rows")
print(len(everything.report), "numbers updated")
everything.skipped["reason"].str.split(";").str[0].str[:60].value_counts().head(6)
"""),
    md("""
## Do the intervals cover the truth?

The same clinic, 15 cohorts of 4,000 patients: each posterior interval of the CT sensitivity against
the clinic's true 72%. (The test suite checks the nominal 95% coverage properly: truths drawn from
the prior, 50 cohorts, four numbers.)
"""),
    code("""
fig, ax = plt.subplots(figsize=(7, 3))
for seed in range(15):
    cohort = truth.sample_cohort(4000, seed=100 + seed, columns=["pulmonary_embolism", "ctpa"])
    r = model.recalibrate(cohort, parameters=["ctpa:sensitivity[pulmonary_embolism]"]).report.iloc[0]
    ax.plot([seed, seed], [r.posterior_low, r.posterior_high], color="tab:blue")
    ax.plot(seed, r.posterior_value, "o", color="tab:blue")
ax.axhline(0.72, color="tab:red", label="the clinic's truth (0.72)")
ax.axhline(r.prior_value, color="grey", ls="--", label=f"published ({r.prior_value})")
ax.set_xlabel("cohort"); ax.set_ylabel("CT sensitivity"); ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
"""),
    md("""
## Limits

* Each number is updated on its own. Numbers that must fit together (a sensitivity above the
  false-positive rate, a prevalence above what its causes produce) can stop fitting; the error
  names the number, and `exclude=[...]` leaves one as published. In the default mode for rows a
  node whose updates do not fit is left as published and listed in `.skipped`.
* A risk factor by age band and a `caused_by` link are shared by every setting: they can be
  recalibrated (the new model then holds only this setting) but not saved in a setting file.
* From rows, odds ratios are crude 2x2 tables (the network's are adjusted for the other risk
  factors): they are counted only when named.
* The command line does the same: `bayesnet recalibrate audit.csv --setting emergency_suspected_pe
  -o our_ed.yaml`.
"""),
]

EXPLORER_INLINE = [
    md("""
# 8. The explorer inline in JupyterLab

The interactive differential explorer, the page `bayesnet explore` serves, also runs in a notebook
cell: set what is known about a patient with the buttons and the ranked differential, the
explanation of the focus condition and the next best tests update at once. It needs the `app`
extra (Panel): `pip install ".[app]"`.

* **Offline.** Displaying it loads Panel's and Bokeh's JavaScript from the installed Python
  package (`pn.extension(inline=True)`), never from a CDN: it works without network access
  (hospital proxies, air-gapped machines). If you call `pn.extension()` yourself before, pass
  `inline=True` too.
* **In the notebook's column.** Results beside the controls when the column is 1000 px or wider,
  above them otherwise; the results stay in view while the notebook scrolls to a control further down.
* **Where its JavaScript cannot run** (a notebook that is not trusted, GitHub or nbviewer) the cell
  shows a message saying so and a static copy of the differential, instead of an empty cell.

*bayesnet is a research and teaching tool, not a medical device.*
"""),
    code("""
from bayesnet.present.explorer import build_explorer

# a patient to start from (the buttons change it once the explorer is shown, in the last cell)
explorer = build_explorer("primary_care", evidence={"history_of_cancer": "yes", "age_group": "70_plus"})
explorer.evidence
"""),
    md("""
The explorer keeps its state in Python: what is set (`explorer.evidence`), the differential it
shows (`explorer.diagnosis`, an ordinary diagnosis that displays itself as a table), the focus
condition and the next tests it ranks for it. `explorer.set_evidence({...})` sets the controls
from Python (and redraws the explorer, as clicking them would).
"""),
    code("""
explorer.diagnosis
"""),
    md("""
The numbers are the API's, exactly: the same evidence given to `model.diagnose` gives the same
floats (the explorer's page carries each one in full precision as `data-posterior`).
"""),
    code("""
import bayesnet

model = bayesnet.load_model("primary_care")
dx = model.diagnose(explorer.evidence)
same = (dx.ranking["posterior"] == explorer.diagnosis.ranking["posterior"]).all()
print(f"explorer and model.diagnose agree exactly: {same}")
print("focus (the serious condition the evidence raised most):", explorer.focus)
explorer.next_best.head(5)[["focus_information", "expected_change"]]
"""),
    md("""
## The explorer

Set what is known with the buttons: the differential (kept in view while the notebook scrolls),
the explanation of the focus condition and the next best tests follow. The *Focus* menu chooses
the condition explained. After a few clicks, run the cells above again: they read the new state.

It is displayed in the notebook's last cell on purpose: "Run All" then ends with it, and its
JavaScript connects to a kernel that has nothing else queued.
"""),
    code("""
explorer
"""),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_teaching_red_flags.ipynb": RED_FLAGS,
    "03_batch_what_if.ipynb": WHAT_IF,
    "04_uncertainty_sensitivity.ipynb": UNCERTAINTY,
    "05_engine_vs_pgmpy_pyagrum.ipynb": ENGINE,
    "06_red_flag_rules.ipynb": RED_FLAG_RULES,
    "07_recalibration.ipynb": RECALIBRATION,
    "08_explorer_inline.ipynb": EXPLORER_INLINE,
}


def build(outdir: Path = HERE) -> list[Path]:
    """Write every notebook (no outputs) into ``outdir``; return the paths."""
    paths = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
            cell["id"] = f"{Path(name).stem[:2]}-{i:02d}"
        nbformat.validate(nb)
        path = outdir / name
        nbformat.write(nb, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(p)
