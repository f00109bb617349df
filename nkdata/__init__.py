"""nkdata: optical constants (n + ik, k >= 0, wavelengths in nm) with provenance.

    import nkdata
    nkdata.get("Ag")                          # measured (refractiveindex.info, CC0)
    nkdata.get("PbS_QD", bandgap_ev=1.3)      # tunable absorber (onset gap in eV)
    nkdata.get("main/Ag/Johnson")             # any page of the shipped refractiveindex.info database
    nkdata.catalog()                          # pandas DataFrame: source, DOI, licence, range, RMS
    nkdata.load_csv("my_film.csv")            # user data (nm/um/eV; n,k or eps1,eps2)

Modules: models (dispersion models, KK, Bruggeman), material (Material, Provenance),
io (CSV/YAML), refractiveindex_db (database pages), tunable (band-edge shifts, PbS QDs),
library (catalogue), fitting (offline parameter fits).
"""
from .io import NkFileError, load_csv, load_yaml
from .library import TUNABLE, catalog, get, names
from .material import Material, Provenance
from .refractiveindex_db import load_page
from .tunable import absorption_onset_ev, moreels_diameter_nm, moreels_peak_ev, pbs_diameter_nm, pbs_exciton_peak_ev


def load(path, **kwargs) -> Material:
    """Load a user n,k file: '.yml'/'.yaml' as refractiveindex.info YAML, anything else as CSV."""
    p = str(path).lower()
    if p.endswith((".yml", ".yaml")):
        return load_yaml(path, **kwargs)
    return load_csv(path, **kwargs)


__all__ = ["get", "names", "catalog", "TUNABLE", "Material", "Provenance", "load", "load_csv", "load_yaml",
           "load_page", "NkFileError", "absorption_onset_ev", "moreels_peak_ev", "moreels_diameter_nm",
           "pbs_exciton_peak_ev", "pbs_diameter_nm"]
