"""The gistcad dashboard: the frame (navigation) around the pages in ``pages/``.

Run it with ``gistcad serve`` (or ``make run``); Streamlit executes this file on every
interaction, so it only declares the pages.
"""

import streamlit as st

st.set_page_config(page_title="gistcad", page_icon=":material/biotech:", layout="wide")

home = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
cohort = st.Page("pages/cohort.py", title="Cohort explorer", icon=":material/groups:")
performance = st.Page(
    "pages/performance.py", title="Model performance", icon=":material/query_stats:"
)
case = st.Page("pages/case.py", title="Case view", icon=":material/person_search:")
survival = st.Page("pages/survival.py", title="Survival", icon=":material/monitoring:")

navigation = st.navigation(
    {"Cohort": [home, cohort, survival], "Models": [performance], "Tumour board": [case]}
)
navigation.run()
