"""Risk: abnormal use (possible theft, meter fault, vacancy) and the customers' risk models.

:mod:`~core.risk.abnormal` scores every customer's abnormal use from the store's readings with
the named rules of ``data/risk.toml`` (:mod:`~core.risk.settings`), an isolation forest and the
transformer areas' line loss (:mod:`~core.risk.line_loss`), and ranks the inspection list by
likelihood × revenue at risk (:mod:`~core.risk.revenue`); confirmed inspection outcomes become
labels (:mod:`~core.risk.labels`). :mod:`~core.risk.reasons` puts the reasons in words.
"""
