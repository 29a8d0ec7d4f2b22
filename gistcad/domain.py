"""Coded values of the GIST domain, one ``StrEnum`` each.

Every coded value that reaches the database, a data frame or the command line is one of
these. Constructors normalise input once with ``Enum(value)`` (or :func:`parse_site` for
the free spellings users type) and trust it afterwards.
"""

from __future__ import annotations

from enum import StrEnum

from gistcad.errors import ValidationError


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"

    @property
    def label(self) -> str:
        return SEX_LABELS[self]


#: what the pages, the commands and the report print for each sex
SEX_LABELS: dict[Sex, str] = {Sex.MALE: "Male", Sex.FEMALE: "Female"}


class Site(StrEnum):
    """Primary tumour site, at the resolution the risk schemes need."""

    STOMACH = "stomach"
    DUODENUM = "duodenum"
    JEJUNUM_ILEUM = "jejunum_ileum"
    COLON = "colon"
    RECTUM = "rectum"
    OESOPHAGUS = "oesophagus"
    OTHER = "other"  # mesentery, omentum, extra-gastrointestinal (EGIST)

    @property
    def is_gastric(self) -> bool:
        return self is Site.STOMACH

    @property
    def is_small_bowel(self) -> bool:
        return self in (Site.DUODENUM, Site.JEJUNUM_ILEUM)

    @property
    def is_colorectal(self) -> bool:
        return self in (Site.COLON, Site.RECTUM)

    @property
    def label(self) -> str:
        """E.g. "Jejunum/ileum"; see :data:`SITE_LABELS`."""
        return SITE_LABELS[self]


#: what the pages, the commands and the report print for each site
SITE_LABELS: dict[Site, str] = {
    Site.STOMACH: "Stomach",
    Site.DUODENUM: "Duodenum",
    Site.JEJUNUM_ILEUM: "Jejunum/ileum",
    Site.COLON: "Colon",
    Site.RECTUM: "Rectum",
    Site.OESOPHAGUS: "Oesophagus",
    Site.OTHER: "Other (mesentery, omentum, EGIST)",
}


_SITE_ALIASES: dict[str, Site] = {
    "stomach": Site.STOMACH,
    "gastric": Site.STOMACH,
    "duodenum": Site.DUODENUM,
    "duodenal": Site.DUODENUM,
    "jejunum_ileum": Site.JEJUNUM_ILEUM,
    "jejunum/ileum": Site.JEJUNUM_ILEUM,
    "jejunum": Site.JEJUNUM_ILEUM,
    "jejunal": Site.JEJUNUM_ILEUM,
    "ileum": Site.JEJUNUM_ILEUM,
    "ileal": Site.JEJUNUM_ILEUM,
    "small_bowel": Site.JEJUNUM_ILEUM,
    "small_intestine": Site.JEJUNUM_ILEUM,
    "colon": Site.COLON,
    "colonic": Site.COLON,
    "rectum": Site.RECTUM,
    "rectal": Site.RECTUM,
    "oesophagus": Site.OESOPHAGUS,
    "esophagus": Site.OESOPHAGUS,
    "oesophageal": Site.OESOPHAGUS,
    "esophageal": Site.OESOPHAGUS,
    "other": Site.OTHER,
    "mesentery": Site.OTHER,
    "omentum": Site.OTHER,
    "egist": Site.OTHER,
}


def parse_site(text: str) -> Site:
    """Read a primary site from the spellings clinicians use.

    >>> parse_site("Jejunum")
    <Site.JEJUNUM_ILEUM: 'jejunum_ileum'>
    """
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return _SITE_ALIASES[key]
    except KeyError:
        allowed = ", ".join(sorted(_SITE_ALIASES))
        raise ValidationError(f"unknown primary site {text!r}; use one of: {allowed}") from None


#: the longest center name the store holds (``centers.name`` is VARCHAR(120))
CENTER_NAME_MAX = 120


def center_name(text: str) -> str:
    """A center name as stored: trimmed, inner runs of white space folded to one space.

    >>> center_name("  Rotterdam   EMC ")
    'Rotterdam EMC'

    Raises
    ------
    ValidationError
        For an empty name, control characters, or more than :data:`CENTER_NAME_MAX`
        characters.
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in text.replace(" ", "")):
        raise ValidationError(
            f"the center name {text!r} contains control characters (tab, newline ...); "
            "give the name as plain text, e.g. --center Rotterdam"
        )
    name = " ".join(text.split())
    if not name:
        raise ValidationError("the center name is empty; give one, e.g. --center Rotterdam")
    if len(name) > CENTER_NAME_MAX:
        raise ValidationError(
            f"the center name has {len(name)} characters; at most {CENTER_NAME_MAX} are "
            "allowed: use a shorter name"
        )
    return name


class GenotypeDetail(StrEnum):
    """Mutation status at the resolution a molecular pathology report gives."""

    KIT11_DEL_557_558 = "kit11_del_557_558"  # deletion involving codons 557/558
    KIT11_DEL_OTHER = "kit11_del_other"  # other exon 11 deletions / delins
    KIT11_SUBSTITUTION = "kit11_substitution"
    KIT11_DUPLICATION = "kit11_duplication"  # insertions/duplications
    KIT11_UNSPECIFIED = "kit11_unspecified"
    KIT9 = "kit9"
    KIT13_17 = "kit13_17"
    PDGFRA_D842V = "pdgfra_d842v"
    PDGFRA_OTHER = "pdgfra_other"
    WT_SDH_DEFICIENT = "wt_sdh_deficient"
    WT_NF1 = "wt_nf1"
    WT_OTHER = "wt_other"
    UNKNOWN = "unknown"

    @property
    def group(self) -> GenotypeGroup:
        return _GROUP_OF[self]

    @property
    def is_kit_exon11(self) -> bool:
        return self.group is GenotypeGroup.KIT11

    @property
    def is_kit(self) -> bool:
        return self.group in (GenotypeGroup.KIT11, GenotypeGroup.KIT9, GenotypeGroup.KIT_OTHER)

    @property
    def label(self) -> str:
        """E.g. "KIT exon 11 deletion of codons 557/558"; see :data:`GENOTYPE_DETAIL_LABELS`."""
        return GENOTYPE_DETAIL_LABELS[self]


#: what the pages, the commands and the report print for each mutation
GENOTYPE_DETAIL_LABELS: dict[GenotypeDetail, str] = {
    GenotypeDetail.KIT11_DEL_557_558: "KIT exon 11 deletion of codons 557/558",
    GenotypeDetail.KIT11_DEL_OTHER: "KIT exon 11 deletion (other codons)",
    GenotypeDetail.KIT11_SUBSTITUTION: "KIT exon 11 substitution",
    GenotypeDetail.KIT11_DUPLICATION: "KIT exon 11 duplication or insertion",
    GenotypeDetail.KIT11_UNSPECIFIED: "KIT exon 11 (type not stated)",
    GenotypeDetail.KIT9: "KIT exon 9",
    GenotypeDetail.KIT13_17: "KIT exon 13 or 17",
    GenotypeDetail.PDGFRA_D842V: "PDGFRA D842V",
    GenotypeDetail.PDGFRA_OTHER: "PDGFRA (other than D842V)",
    GenotypeDetail.WT_SDH_DEFICIENT: "Wild-type, SDH-deficient",
    GenotypeDetail.WT_NF1: "Wild-type, NF1-associated",
    GenotypeDetail.WT_OTHER: "Wild-type (KIT/PDGFRA), other",
    GenotypeDetail.UNKNOWN: "Not tested or unknown",
}


class GenotypeGroup(StrEnum):
    """Genotype at the resolution survival tables and therapy decisions use."""

    KIT11 = "kit11"
    KIT9 = "kit9"
    KIT_OTHER = "kit_other"  # exon 13/17
    PDGFRA = "pdgfra"
    WILD_TYPE = "wild_type"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        """E.g. "KIT exon 11"; see :data:`GENOTYPE_GROUP_LABELS`."""
        return GENOTYPE_GROUP_LABELS[self]


#: what the pages, the commands and the report print for each genotype group (also the
#: survival groups and figure legends)
GENOTYPE_GROUP_LABELS: dict[GenotypeGroup, str] = {
    GenotypeGroup.KIT11: "KIT exon 11",
    GenotypeGroup.KIT9: "KIT exon 9",
    GenotypeGroup.KIT_OTHER: "KIT exon 13/17",
    GenotypeGroup.PDGFRA: "PDGFRA",
    GenotypeGroup.WILD_TYPE: "Wild-type",
    GenotypeGroup.UNKNOWN: "Unknown",
}


class GenotypeClass(StrEnum):
    """The four classes the genotype models predict."""

    KIT11 = "kit11"
    KIT9 = "kit9"
    PDGFRA = "pdgfra"
    WT_OTHER = "wt_other"  # wild-type, KIT exon 13/17 and other rare genotypes

    @property
    def label(self) -> str:
        """E.g. "Wild-type / other"; see :data:`GENOTYPE_CLASS_LABELS`."""
        return GENOTYPE_CLASS_LABELS[self]


#: what the pages and the commands print for each predicted class
GENOTYPE_CLASS_LABELS: dict[GenotypeClass, str] = {
    GenotypeClass.KIT11: "KIT exon 11",
    GenotypeClass.KIT9: "KIT exon 9",
    GenotypeClass.PDGFRA: "PDGFRA",
    GenotypeClass.WT_OTHER: "Wild-type / other",
}


_GROUP_OF: dict[GenotypeDetail, GenotypeGroup] = {
    GenotypeDetail.KIT11_DEL_557_558: GenotypeGroup.KIT11,
    GenotypeDetail.KIT11_DEL_OTHER: GenotypeGroup.KIT11,
    GenotypeDetail.KIT11_SUBSTITUTION: GenotypeGroup.KIT11,
    GenotypeDetail.KIT11_DUPLICATION: GenotypeGroup.KIT11,
    GenotypeDetail.KIT11_UNSPECIFIED: GenotypeGroup.KIT11,
    GenotypeDetail.KIT9: GenotypeGroup.KIT9,
    GenotypeDetail.KIT13_17: GenotypeGroup.KIT_OTHER,
    GenotypeDetail.PDGFRA_D842V: GenotypeGroup.PDGFRA,
    GenotypeDetail.PDGFRA_OTHER: GenotypeGroup.PDGFRA,
    GenotypeDetail.WT_SDH_DEFICIENT: GenotypeGroup.WILD_TYPE,
    GenotypeDetail.WT_NF1: GenotypeGroup.WILD_TYPE,
    GenotypeDetail.WT_OTHER: GenotypeGroup.WILD_TYPE,
    GenotypeDetail.UNKNOWN: GenotypeGroup.UNKNOWN,
}


def genotype_class(detail: GenotypeDetail) -> GenotypeClass | None:
    """The model class of a genotype, or ``None`` when the genotype is unknown."""
    group = detail.group
    if group is GenotypeGroup.UNKNOWN:
        return None
    return {
        GenotypeGroup.KIT11: GenotypeClass.KIT11,
        GenotypeGroup.KIT9: GenotypeClass.KIT9,
        GenotypeGroup.PDGFRA: GenotypeClass.PDGFRA,
    }.get(group, GenotypeClass.WT_OTHER)


#: Largest tumour diameter accepted anywhere, in cm. The largest GISTs reported measure about
#: 40 cm (NCI PDQ: "<1 cm to >40 cm"), so a larger number is almost always a size given in
#: millimetres. The importer refuses such a cell and the recurrence estimate such a size.
MAX_TUMOUR_SIZE_CM = 40.0
#: mitoses per 50 HPF or 5 mm²: the highest counts reported are in the hundreds; the importer
#: and the recurrence estimate refuse more
MAX_MITOSES = 1000.0


def plausible_mitoses(count: float) -> float:
    """``count`` if it is at most :data:`MAX_MITOSES`, else :class:`ValidationError`."""
    if count > MAX_MITOSES:
        raise ValidationError(
            f"{count:g} mitoses is above the plausible range (0-{MAX_MITOSES:g} per 50 HPF or "
            "5 mm²): check the value"
        )
    return count


class MitosisUnit(StrEnum):
    """How a mitotic count was counted; the two are never converted silently."""

    PER_50_HPF = "per_50hpf"
    PER_5_MM2 = "per_5mm2"

    @property
    def label(self) -> str:
        """E.g. "/ 50 HPF", printed after the count; see :data:`MITOSIS_UNIT_LABELS`."""
        return MITOSIS_UNIT_LABELS[self]


#: what the pages and the report print after a mitotic count
MITOSIS_UNIT_LABELS: dict[MitosisUnit, str] = {
    MitosisUnit.PER_50_HPF: "/ 50 HPF",
    MitosisUnit.PER_5_MM2: "/ 5 mm²",
}


class Endpoint(StrEnum):
    RFS = "rfs"  # recurrence-free survival
    OS = "os"  # overall survival

    @property
    def label(self) -> str:
        """E.g. "Recurrence-free survival"; see :data:`ENDPOINT_LABELS`."""
        return ENDPOINT_LABELS[self]


#: what the pages and the commands print for each endpoint
ENDPOINT_LABELS: dict[Endpoint, str] = {
    Endpoint.RFS: "Recurrence-free survival",
    Endpoint.OS: "Overall survival",
}


class RiskScheme(StrEnum):
    NIH_2002 = "nih2002"  # Fletcher et al., Hum Pathol 2002
    AFIP_2006 = "afip2006"  # Miettinen & Lasota, Semin Diagn Pathol 2006
    MODIFIED_NIH_2008 = "joensuu2008"  # Joensuu, Hum Pathol 2008

    @property
    def label(self) -> str:
        """E.g. "Modified NIH 2008"; see :data:`RISK_SCHEME_LABELS`."""
        return RISK_SCHEME_LABELS[self]


#: what the pages, the commands and the report print for each risk scheme
RISK_SCHEME_LABELS: dict[RiskScheme, str] = {
    RiskScheme.NIH_2002: "NIH 2002",
    RiskScheme.AFIP_2006: "AFIP 2006",
    RiskScheme.MODIFIED_NIH_2008: "Modified NIH 2008",
}


class RiskClass(StrEnum):
    """Risk categories; NIH and modified NIH use the first four, AFIP the rest too."""

    NONE = "none"
    VERY_LOW = "very_low"
    LOW = "low"
    INTERMEDIATE = "intermediate"  # NIH wording
    MODERATE = "moderate"  # AFIP wording
    HIGH = "high"
    INSUFFICIENT_DATA = "insufficient_data"

    @property
    def label(self) -> str:
        """E.g. "Very low"; see :data:`RISK_CLASS_LABELS`."""
        return RISK_CLASS_LABELS[self]


#: what the pages, the commands and the report print for each risk class (also the survival
#: groups, and the values of the cohort filter's risk field in a link)
RISK_CLASS_LABELS: dict[RiskClass, str] = {
    RiskClass.NONE: "No risk",  # AFIP's "none": no progression observed (0 %)
    RiskClass.VERY_LOW: "Very low",
    RiskClass.LOW: "Low",
    RiskClass.INTERMEDIATE: "Intermediate",
    RiskClass.MODERATE: "Moderate",
    RiskClass.HIGH: "High",
    RiskClass.INSUFFICIENT_DATA: "Insufficient data",
}


#: the classes each scheme can give (NIH and modified NIH: four; AFIP: its own wording)
SCHEME_CLASSES: dict[RiskScheme, tuple[RiskClass, ...]] = {
    RiskScheme.NIH_2002: (
        RiskClass.VERY_LOW,
        RiskClass.LOW,
        RiskClass.INTERMEDIATE,
        RiskClass.HIGH,
    ),
    RiskScheme.AFIP_2006: (
        RiskClass.NONE,
        RiskClass.VERY_LOW,
        RiskClass.LOW,
        RiskClass.MODERATE,
        RiskClass.HIGH,
        RiskClass.INSUFFICIENT_DATA,
    ),
    RiskScheme.MODIFIED_NIH_2008: (
        RiskClass.VERY_LOW,
        RiskClass.LOW,
        RiskClass.INTERMEDIATE,
        RiskClass.HIGH,
    ),
}


#: the risk filter's word (in a link, on the command line) for a tumour that cannot be
#: classified: site, size or mitoses missing, or a count per 5 mm² (the groups "Unknown" and
#: "Not classifiable")
RISK_UNKNOWN = "unknown"


def risk_choices(scheme: RiskScheme) -> tuple[RiskClass | None, ...]:
    """What a risk filter offers under ``scheme``: its classes, then ``None`` (unknown)."""
    return (*SCHEME_CLASSES[scheme], None)


def risk_choice_label(choice: RiskClass | None) -> str:
    """A risk filter's choice as printed: the class's label, or "Unknown"."""
    return "Unknown" if choice is None else choice.label


def parse_risk_choice(text: str) -> RiskClass | None:
    """``"insufficient_data"`` → :attr:`RiskClass.INSUFFICIENT_DATA`; :data:`RISK_UNKNOWN`
    → ``None``; anything else raises ``ValueError``."""
    return None if text == RISK_UNKNOWN else RiskClass(text)


class Grouping(StrEnum):
    """A variable the cohort can be grouped (or a Cox model adjusted) by."""

    GENOTYPE = "genotype"  # true genotype group
    PREDICTED = "predicted"  # predicted status from a model
    RISK = "risk"  # clinical risk class under a scheme
    CENTER = "center"
    SEX = "sex"
    SITE = "site"
    HISTOLOGY = "histology"
    RUPTURE = "rupture"
    ADJUVANT = "adjuvant"  # adjuvant imatinib
    NEOADJUVANT = "neoadjuvant"  # neoadjuvant imatinib
    AGE = "age"  # years at diagnosis; numeric
    SIZE = "size"  # largest diameter, cm; numeric
    MITOSES = "mitoses"  # mitotic count; numeric

    @classmethod
    def names(cls) -> str:
        """The variable names, for messages and help."""
        return ", ".join(g.value for g in cls)

    @property
    def is_numeric(self) -> bool:
        """Grouping needs cut points or quantiles; as a covariate it enters per unit."""
        return self in (Grouping.AGE, Grouping.SIZE, Grouping.MITOSES)

    @property
    def label(self) -> str:
        """E.g. "Predicted genotype (model)"; see :data:`GROUPING_LABELS`."""
        return GROUPING_LABELS[self]


#: what the pages print for each grouping variable
GROUPING_LABELS: dict[Grouping, str] = {
    Grouping.PREDICTED: "Predicted genotype (model)",
    Grouping.GENOTYPE: "True genotype",
    Grouping.RISK: "Risk class",
    Grouping.CENTER: "Center",
    Grouping.ADJUVANT: "Adjuvant imatinib",
    Grouping.NEOADJUVANT: "Neoadjuvant imatinib",
    Grouping.SEX: "Sex",
    Grouping.SITE: "Site",
    Grouping.HISTOLOGY: "Histology",
    Grouping.RUPTURE: "Rupture",
    Grouping.AGE: "Age (cut)",
    Grouping.SIZE: "Tumour size (cut)",
    Grouping.MITOSES: "Mitotic count (cut)",
}


class StatusSplit(StrEnum):
    """How genotype probabilities (or true genotypes) are split into groups."""

    KIT11 = "kit11"  # KIT exon 11 vs rest
    KIT_MUTANT = "kit_mutant"  # KIT-mutant (exon 11 or 9) vs not
    FOUR_CLASS = "four_class"  # KIT exon 11 / KIT exon 9 / PDGFRA / wild-type or other

    @property
    def label(self) -> str:
        """E.g. "KIT exon 11 vs rest"; see :data:`STATUS_SPLIT_LABELS`."""
        return STATUS_SPLIT_LABELS[self]


#: what the pages print for each split
STATUS_SPLIT_LABELS: dict[StatusSplit, str] = {
    StatusSplit.KIT11: "KIT exon 11 vs rest",
    StatusSplit.KIT_MUTANT: "KIT-mutant vs not",
    StatusSplit.FOUR_CLASS: "Four classes",
}


class ModelKind(StrEnum):
    DL = "dl"
    RADIOMICS = "radiomics"
    CLINICAL = "clinical"

    @property
    def label(self) -> str:
        """E.g. "Deep learning (CT)"; see :data:`MODEL_KIND_LABELS`."""
        return MODEL_KIND_LABELS[self]


#: what the pages, the commands and the model card print for each kind of model
MODEL_KIND_LABELS: dict[ModelKind, str] = {
    ModelKind.DL: "Deep learning (CT)",
    ModelKind.RADIOMICS: "Radiomics (CT)",
    ModelKind.CLINICAL: "Clinical",
}


#: what a model predicts (:class:`gistcad.modelling.targets.Target`), by target name
MODEL_TARGET_LABELS: dict[str, str] = {
    "genotype": "Genotype (four classes)",
    "kit11": "KIT exon 11 vs rest",
    "risk": "High risk of recurrence (NIH 2002) vs not",
    "choi_pr_fu1": "Choi response at the first follow-up CT",
    "progression_6m": "RECIST 1.1 progression by 6 months",
    "rfs": "Recurrence-free survival (imaging risk score)",
}

#: the classes the models predict (:attr:`gistcad.modelling.targets.Target.classes`) that
#: are not genotype classes (those read as :data:`GENOTYPE_CLASS_LABELS`), by class name
MODEL_CLASS_LABELS: dict[str, str] = {
    "not_kit11": "Not KIT exon 11",
    "high_risk": "High risk",
    "not_high_risk": "Not high risk",
    "choi_pr_fu1": "Choi response (partial or complete)",
    "no_choi_pr_fu1": "No Choi response",
    "progression_6m": "Progression by 6 months",
    "no_progression_6m": "No progression by 6 months",
    "recurrence_5y": "Recurrence by 5 years",
    "no_recurrence_5y": "No recurrence by 5 years",
}


def model_class_label(name: str) -> str:
    """A predicted class as printed: a genotype class's label, another target's class label
    (:data:`MODEL_CLASS_LABELS`), else ``name`` unchanged.

    >>> model_class_label("wt_other"), model_class_label("no_choi_pr_fu1")
    ('Wild-type / other', 'No Choi response')
    """
    if name in GenotypeClass.__members__.values():
        return GenotypeClass(name).label
    return MODEL_CLASS_LABELS.get(name, name)


class RiskScoreSource(StrEnum):
    """Where a model's risk score of a patient comes from, so that none is in-sample."""

    OUT_OF_FOLD = "out_of_fold"  # the fold model that did not see the patient
    FINAL_MODEL = "final_model"  # the final model, not trained on the patient


class SegmentationSource(StrEnum):
    """Who or what made an outline. Imported outlines keep what their file says: a DICOM
    SEG's SegmentAlgorithmType (0062,0008), an RTSTRUCT's ROIGenerationAlgorithm (3006,0036);
    a NIfTI mask, or an RTSTRUCT that leaves the attribute empty, counts as manual."""

    MANUAL = "manual"  # drawn by a reader elsewhere and imported
    MODEL = "model"
    SEMI_AUTOMATIC = "semi_automatic"  # grown in gistcad from a reader's click
    IMPORTED_SEMI_AUTOMATIC = "imported_semi_automatic"  # another program's, a reader guiding it
    IMPORTED_AUTOMATIC = "imported_automatic"  # another program's, no reader


#: How a segmentation's source reads on screen and in reports.
SEGMENTATION_SOURCE_LABELS: dict[SegmentationSource, str] = {
    SegmentationSource.MANUAL: "Manual (imported)",
    SegmentationSource.MODEL: "Model",
    SegmentationSource.SEMI_AUTOMATIC: "Semi-automatic (one click)",
    SegmentationSource.IMPORTED_SEMI_AUTOMATIC: "Semi-automatic (imported)",
    SegmentationSource.IMPORTED_AUTOMATIC: "Automatic (imported; no reader)",
}


#: The outlines a model reads and trains on, in order of preference: a reader's outline, then
#: one a reader made with an algorithm's help. An algorithm's outline alone (a model's, or
#: another program's) is never a reference: a model would learn another model's errors.
REFERENCE_OUTLINES: tuple[SegmentationSource, ...] = (
    SegmentationSource.MANUAL,
    SegmentationSource.SEMI_AUTOMATIC,
    SegmentationSource.IMPORTED_SEMI_AUTOMATIC,
)


def outline_caption(source: str) -> str:
    """What the case view says of the outline it shows, of the stored source ``source``."""
    made_by = SegmentationSource(source)
    said = f"Outline shown: {SEGMENTATION_SOURCE_LABELS[made_by]}"
    if made_by in REFERENCE_OUTLINES:
        return f"{said}, the one the models read."
    return f"{said}. The models read no outline of this CT: import a reader's outline."


class Device(StrEnum):
    """Where the deep model runs (``--device``): a choice of the run, never stored."""

    AUTO = "auto"  # CUDA when available, else CPU
    CPU = "cpu"
    CUDA = "cuda"


class Precision(StrEnum):
    """The deep model's arithmetic while it trains (``--precision``), stored with the model
    (it can change the weights): float32 throughout, or mixed precision, where the network's
    forward pass runs under ``torch.autocast`` in bfloat16 or float16 and the loss, the
    gradients' update and the weights stay float32. Validation and prediction run in float32."""

    FP32 = "fp32"
    BF16 = "bf16"  # CPU or CUDA; bfloat16 keeps float32's range, so no loss scaling
    FP16 = "fp16"  # CUDA only, with a gradient scaler against underflow


#: the most data-loader worker processes a deep model's fit may start (``--loader-workers``)
MAX_LOADER_WORKERS = 32


class ContrastPhase(StrEnum):
    NON_CONTRAST = "non_contrast"
    ARTERIAL = "arterial"
    PORTAL_VENOUS = "portal_venous"
    DELAYED = "delayed"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        """E.g. "Portal venous"; see :data:`CONTRAST_PHASE_LABELS`."""
        return CONTRAST_PHASE_LABELS[self]


#: what the case view and the report print for a CT series' contrast phase
CONTRAST_PHASE_LABELS: dict[ContrastPhase, str] = {
    ContrastPhase.NON_CONTRAST: "Non-contrast",
    ContrastPhase.ARTERIAL: "Arterial",
    ContrastPhase.PORTAL_VENOUS: "Portal venous",
    ContrastPhase.DELAYED: "Delayed",
    ContrastPhase.UNKNOWN: "Unknown",
}


class Split(StrEnum):
    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Role(StrEnum):
    """What a dashboard user may do; centers limit where (see :mod:`gistcad.store.scope`)."""

    ADMIN = "admin"
    PI = "pi"
    CLINICIAN = "clinician"


class Permission(StrEnum):
    VIEW_COHORT = "view_cohort"
    VIEW_CASE = "view_case"
    VIEW_PERFORMANCE = "view_performance"
    BULK_EXPORT = "bulk_export"
    RUN_JOBS = "run_jobs"
    IMPORT_DATA = "import_data"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT = "view_audit"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.PI: frozenset(
        {
            Permission.VIEW_COHORT,
            Permission.VIEW_CASE,
            Permission.VIEW_PERFORMANCE,
            Permission.BULK_EXPORT,
            Permission.RUN_JOBS,
        }
    ),
    Role.CLINICIAN: frozenset({Permission.VIEW_COHORT, Permission.VIEW_CASE}),
}

#: Roles that see every center; the others see only the centers their account lists.
ALL_CENTER_ROLES = frozenset({Role.ADMIN})


#: The value of a prediction job's ``models`` parameter that asks for the current versions
#: (:func:`gistcad.modelling.current.predict_with_current_models`).
CURRENT_MODELS = "current"


class JobKind(StrEnum):
    """What a background job does (:mod:`gistcad.jobs`)."""

    TRAIN = "train"  # train and register a model version (and, if asked, predict with it)
    PREDICT = "predict"  # predict patients with a registered model version
    DISCOVER = "discover"  # imaging biomarker discovery (gistcad.biomarkers.jobs)


class Drug(StrEnum):
    """A tyrosine-kinase inhibitor line given for GIST (``gist_facts.md``, therapy)."""

    IMATINIB = "imatinib"
    SUNITINIB = "sunitinib"
    REGORAFENIB = "regorafenib"
    RIPRETINIB = "ripretinib"
    AVAPRITINIB = "avapritinib"
    OTHER = "other"


class LesionOrgan(StrEnum):
    """Where a tracked lesion lies: the primary's sites and the usual metastatic organs."""

    STOMACH = "stomach"
    DUODENUM = "duodenum"
    JEJUNUM_ILEUM = "jejunum_ileum"
    COLON = "colon"
    RECTUM = "rectum"
    OESOPHAGUS = "oesophagus"
    LIVER = "liver"
    PERITONEUM = "peritoneum"
    LYMPH_NODE = "lymph_node"
    LUNG = "lung"
    OTHER = "other"


class LesionRole(StrEnum):
    """A lesion's role in response assessment (RECIST 1.1, Eisenhauer 2009)."""

    TARGET = "target"  # measurable (>= 10 mm; nodes >= 15 mm short axis), at most 5, 2 per organ
    NON_TARGET = "non_target"  # followed, not measured into the sum
    NEW = "new"  # absent at baseline: progression in both RECIST and Choi


class MeasurementSource(StrEnum):
    """Who measured a lesion or assigned a response category."""

    AUTOMATIC = "automatic"  # computed from the mask by gistcad
    READER = "reader"  # a radiologist's override, with a reason (both values are kept)


class ResponseCriteria(StrEnum):
    RECIST_1_1 = "recist_1_1"  # Eisenhauer et al., Eur J Cancer 2009
    CHOI = "choi"  # Choi et al., J Clin Oncol 2007


class ResponseCategory(StrEnum):
    COMPLETE = "cr"
    PARTIAL = "pr"
    STABLE = "sd"
    NON_CR_NON_PD = "non_cr_non_pd"  # non-target disease only, neither gone nor progressing
    PROGRESSION = "pd"
    NOT_EVALUABLE = "ne"


#: How response criteria and categories read on screen and in reports.
RESPONSE_CRITERIA_LABELS: dict[ResponseCriteria, str] = {
    ResponseCriteria.RECIST_1_1: "RECIST 1.1",
    ResponseCriteria.CHOI: "Choi",
}
RESPONSE_CATEGORY_LABELS: dict[ResponseCategory, str] = {
    ResponseCategory.COMPLETE: "CR (complete response)",
    ResponseCategory.PARTIAL: "PR (partial response)",
    ResponseCategory.STABLE: "SD (stable disease)",
    ResponseCategory.NON_CR_NON_PD: "Non-CR/non-PD",
    ResponseCategory.PROGRESSION: "PD (progressive disease)",
    ResponseCategory.NOT_EVALUABLE: "NE (not evaluable)",
}


#: What the positive class of each response target means, by target name (the class name of
#: the positive class is the target's name), for the case card.
RESPONSE_TARGET_LABELS: dict[str, str] = {
    "choi_pr_fu1": "Predicted Choi response at the first follow-up CT (about 2 months)",
    "progression_6m": "Predicted RECIST 1.1 progression by 6 months",
}
