"""Interval-data ingestion, the pure part: codes and rules, streaming validation, per-day slot records.

Nothing in this package talks to AWS. The pipeline around it (S3 events, jobs, staging and committing the
day records, reject and feedback files) feeds it a byte stream and a meter lookup, and stores what it
yields. `codes` documents every rule; `validator` applies them in one streaming pass; `slots` is the
storage shape and its merge rule; `meters` turns stored meters into lookup verdicts.
"""
