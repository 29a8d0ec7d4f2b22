"""A hospital PACS over DICOMweb: find studies (QIDO-RS), pull one through the DICOM importer
(WADO-RS) and push a case's results back as DICOM SEG + SR (STOW-RS).

Identifying data exist here only in transit: a pulled study is written to a private temporary
folder outside the data folder and imported by the same use case as a folder import, which
de-identifies it; a pushed SEG/SR copies the patient module from the PACS's own headers of
the source series, read at push time and never stored.
"""

from gistcad.pacs.dicomweb import PacsError, StudySummary, find_studies, pull_study

__all__ = ["PacsError", "StudySummary", "find_studies", "pull_study"]
