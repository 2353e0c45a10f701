"""STEDI human-balance lakehouse: landing → trusted → curated logic shared by the five stedi jobs."""
