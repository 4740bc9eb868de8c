"""Clinical labels for the ids of variables, states and settings (what a page or a table shows a person).

Ids stay the interface (``esr_crp``, ``70_plus``, ``primary_care``); these tables say how to write
them for a reader (``ESR/CRP``, ``70 or over``, ``Primary care``). An id without an entry is shown
with its underscores as spaces, so a new variable is readable before it gets a label.

Examples
--------
>>> variable_label("esr_crp"), variable_label("ctpa"), variable_label("night_pain")
('ESR/CRP', 'CT pulmonary angiography', 'Night pain')
>>> state_label("age_group", "70_plus"), state_label("fever", "yes")
('70 or over', 'yes')
>>> setting_label("primary_care")
'Primary care'
"""

from __future__ import annotations

__all__ = [
    "SETTING_LABELS",
    "SETTING_PLACES",
    "STATE_LABELS",
    "VARIABLE_LABELS",
    "inline",
    "setting_label",
    "setting_place",
    "state_label",
    "variable_label",
]

#: Variable id -> clinical label (conditions, risk factors, findings, tests).
VARIABLE_LABELS: dict[str, str] = {
    # conditions
    "mechanical_pain": "Mechanical (non-specific) back pain",
    "dvt": "Deep vein thrombosis (DVT)",
    "pulmonary_embolism": "Pulmonary embolism (PE)",
    "spinal_metastasis": "Spinal metastasis",
    "multiple_myeloma": "Multiple myeloma",
    "epidural_abscess": "Spinal epidural abscess",
    "vertebral_osteomyelitis": "Vertebral osteomyelitis",
    "compression_fracture": "Vertebral compression fracture",
    "cauda_equina_syndrome": "Cauda equina syndrome",
    "pyelonephritis": "Pyelonephritis",
    "lymphoma": "Lymphoma",
    "renal_vein_thrombosis": "Renal vein thrombosis",
    "primary_spinal_tumour": "Primary spinal tumour",
    "aortic_aneurysm": "Aortic aneurysm or dissection",
    "renal_colic": "Renal colic",
    # risk factors
    "age_group": "Age",
    "sex": "Sex",
    "history_of_cancer": "History of cancer",
    "iv_drug_use": "Injection drug use",
    "immunosuppression": "Immunosuppression",
    "diabetes": "Diabetes",
    "recent_spinal_procedure": "Recent spinal procedure",
    "recent_infection": "Recent bacterial infection",
    "corticosteroid_use": "Long-term corticosteroids",
    "osteoporosis": "Osteoporosis",
    "significant_trauma": "Significant trauma",
    "recent_surgery_or_immobilisation": "Recent surgery or immobilisation",
    "prior_vte": "Previous DVT or PE",
    # findings
    "night_pain": "Night pain",
    "pain_unrelieved_by_rest": "Pain not relieved by rest",
    "failure_to_improve": "No improvement after 4-6 weeks",
    "unexplained_weight_loss": "Unexplained weight loss",
    "fever": "Fever",
    "night_sweats": "Night sweats",
    "spinal_tenderness": "Spinal tenderness",
    "neuro_deficit": "Neurological deficit in the legs",
    "saddle_anaesthesia": "Saddle anaesthesia",
    "urinary_retention": "Urinary retention",
    "unilateral_leg_swelling": "One leg swollen",
    "dyspnoea": "Breathlessness",
    "pleuritic_chest_pain": "Pleuritic chest pain",
    "tachycardia": "Heart rate over 100",
    "haemoptysis": "Haemoptysis",
    "lymphadenopathy": "Enlarged lymph nodes",
    "haematuria": "Blood in the urine",
    "flank_pain": "Flank pain",
    "dysuria": "Painful or frequent urination",
    "syncope": "Fainting",
    "sudden_onset": "Sudden onset",
    "spinal_contusion": "Bruising over the spine",
    "radiating_leg_pain": "Pain below the knee (sciatica)",
    "interscapular_pain": "Pain between the shoulder blades",
    "warm_or_discoloured_leg": "Warm or discoloured leg",
    # tests
    "d_dimer": "D-dimer",
    "esr_crp": "ESR/CRP",
    "wbc": "White cell count (WBC)",
    "calcium": "Serum calcium",
    "haemoglobin": "Haemoglobin",
    "paraprotein": "Paraprotein (serum electrophoresis)",
    "blood_culture": "Blood culture",
    "mri_malignancy": "MRI: tumour",
    "mri_discitis": "MRI: discitis/osteomyelitis",
    "mri_epidural_collection": "MRI: epidural collection",
    "mri_compression": "MRI: cauda equina compression",
    "xray_fracture": "X-ray: vertebral fracture",
    "ctpa": "CT pulmonary angiography",
    "leg_ultrasound": "Leg vein ultrasound",
    "urinalysis": "Urine dipstick",
    "ct_abdomen_stone": "CT abdomen: urinary stone",
    "ct_abdomen_aorta": "CT angiography: aorta",
    "pet_ct": "FDG PET-CT",
}

#: (variable id, state id) -> label, for states whose id does not read as words.
STATE_LABELS: dict[tuple[str, str], str] = {
    ("age_group", "under_50"): "under 50",
    ("age_group", "50_to_69"): "50 to 69",
    ("age_group", "70_plus"): "70 or over",
}

#: Setting id -> label.
SETTING_LABELS: dict[str, str] = {
    "primary_care": "Primary care",
    "emergency": "Emergency department",
    "emergency_suspected_pe": "Emergency, suspected PE",
    "suspected_cauda_equina": "Suspected cauda equina",
}

#: Setting id -> the population as a sentence names it ("In primary care, ...").
SETTING_PLACES: dict[str, str] = {
    "primary_care": "primary care",
    "emergency": "the emergency department",
    "emergency_suspected_pe": "emergency patients tested for PE",
    "suspected_cauda_equina": "urgent MRI referrals for suspected cauda equina",
}


def _words(name: object) -> str:
    return str(name).replace("_", " ")


def variable_label(name: str) -> str:
    """The clinical label of a variable id (``esr_crp`` -> ``ESR/CRP``); unknown ids with spaces for underscores.

    >>> variable_label("dvt"), variable_label("new_finding")
    ('Deep vein thrombosis (DVT)', 'new finding')
    """
    return VARIABLE_LABELS.get(str(name), _words(name))


def state_label(variable: str, state: str) -> str:
    """The label of one state of a variable (``age_group``, ``70_plus`` -> ``70 or over``).

    >>> state_label("esr_crp", "elevated"), state_label("anything", "some_state")
    ('elevated', 'some state')
    """
    return STATE_LABELS.get((str(variable), str(state)), _words(state))


def setting_label(name: str) -> str:
    """The label of a setting id, or of a setting file's name (``primary_care`` -> ``Primary care``).

    >>> setting_label("emergency")
    'Emergency department'
    """
    return SETTING_LABELS.get(str(name), _words(name))


def inline(text: str) -> str:
    """A label inside a sentence: lower case first, unless it starts with an abbreviation.

    >>> inline(variable_label("cauda_equina_syndrome")), inline("ESR/CRP"), inline(variable_label("dvt"))
    ('cauda equina syndrome', 'ESR/CRP', 'deep vein thrombosis (DVT)')
    >>> inline("D-dimer")
    'D-dimer'

    """
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def setting_place(name: str) -> str:
    """The population of a setting as a sentence names it (``emergency`` -> ``the emergency department``).

    >>> setting_place("emergency"), setting_place("my_cohort")
    ('the emergency department', 'my cohort')
    """
    return SETTING_PLACES.get(str(name), inline(setting_label(name)))
