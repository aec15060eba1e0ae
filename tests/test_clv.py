"""BG/NBD and Gamma-Gamma math: the paper's figures, planted parameters, 2F1 numerics, typed errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation import clv
from segmentation.errors import PredictionError
from tests.shared_data import shared_file

PAPER = clv.BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4, customers=2357)


@pytest.fixture(scope="module")
def cdnow_fit():
    summary = pd.read_csv(shared_file("cdnow_sample_summary.csv"))
    return summary, clv.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])


def test_the_published_cdnow_summary_gives_the_papers_fit(cdnow_fit):
    summary, fit = cdnow_fit
    assert len(summary) == fit.customers == 2357
    assert (round(fit.r, 3), round(fit.alpha, 3), round(fit.a, 3), round(fit.b, 3)) == (0.243, 4.414, 0.793, 2.426)
    assert round(fit.log_likelihood, 1) == -9582.4


@pytest.mark.parametrize("model", ["paper", "fitted"])
def test_the_papers_conditional_expectation_and_p_active(cdnow_fit, model):
    bgnbd = PAPER if model == "paper" else cdnow_fit[1]
    assert round(float(bgnbd.expected_purchases(39, 2, 30.43, 38.86)), 3) == 1.226
    assert round(float(bgnbd.p_alive(2, 30.43, 38.86)), 4) == 0.7266


def test_the_papers_unconditional_expectations(cdnow_fit):
    fit = cdnow_fit[1]
    got = fit.expected_purchases_new([1, 3, 78])
    assert [round(float(v), 4) for v in got[:2]] == [0.0532, 0.1506]
    # The paper prints 1.8576; the exact formula at the maximum-likelihood estimate (checked against
    # mpmath in test_unconditional_expectation_equals_the_closed_form) gives 1.8580.
    assert abs(float(got[2]) - 1.8576) < 5e-4
    assert round(float(PAPER.p_no_purchase(39)), 7) == 0.5737864


def test_unconditional_expectation_equals_the_closed_form():
    mpmath = pytest.importorskip("mpmath")
    r, alpha, a, b = PAPER.r, PAPER.alpha, PAPER.a, PAPER.b
    for t in (1.0, 3.0, 78.0, 500.0):
        z = t / (alpha + t)
        want = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * mpmath.hyp2f1(r, b, a + b - 1, z))
        assert float(PAPER.expected_purchases_new(t)) == pytest.approx(float(want), rel=1e-11)


def _simulate(n, r, alpha, a, b, T_max, seed):
    """n customers from BG/NBD, each observed for T ~ U(T_max/4, T_max) days after their first purchase."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(T_max / 4, T_max, n).round()
    return (*clv.simulate_bgnbd(lam, p, T, rng), T)


def test_planted_parameters_are_recovered_within_3_percent():
    truth = {"r": 0.5, "alpha": 20.0, "a": 0.8, "b": 3.0}
    x, t_x, T = _simulate(100_000, *truth.values(), T_max=400, seed=7)
    fit = clv.fit_bgnbd(x, t_x, T)
    for name, value in truth.items():
        assert getattr(fit, name) == pytest.approx(value, rel=0.03), name


def test_planted_gamma_gamma_is_recovered():
    rng = np.random.default_rng(3)
    p, q, gamma = 6.0, 4.0, 15.0
    n = 50_000
    x = rng.integers(1, 10, n)
    nu = rng.gamma(q, 1 / gamma, n)
    mean_spend = rng.gamma(p * x) / (nu * x)  # the mean of x purchases of Gamma(p, nu)
    fit = clv.fit_gamma_gamma(x, mean_spend)
    assert (fit.p, fit.q, fit.gamma) == pytest.approx((p, q, gamma), rel=0.05)
    assert fit.customers == n


def test_time_unit_changes_only_alpha(cdnow_fit):
    summary, weeks = cdnow_fit
    days = clv.fit_bgnbd(summary["frequency"], summary["recency"] * 7, summary["T"] * 7)
    assert (days.r, days.a, days.b) == pytest.approx((weeks.r, weeks.a, weeks.b), rel=1e-5)
    assert days.alpha == pytest.approx(7 * weeks.alpha, rel=1e-5)


def test_fitting_distinct_points_with_weights_equals_fitting_every_customer(cdnow_fit):
    summary, fit = cdnow_fit
    points = summary.groupby(["frequency", "recency", "T"]).size().reset_index(name="n")
    weighted = clv.fit_bgnbd(points["frequency"], points["recency"], points["T"], weights=points["n"])
    assert (weighted.r, weighted.alpha, weighted.a, weighted.b) == pytest.approx((fit.r, fit.alpha, fit.a, fit.b),
                                                                                 rel=1e-6)
    assert weighted.customers == 2357


@pytest.mark.parametrize(("a", "b", "c", "z"), [
    (2.24, 4.4, 3.2, 0.5),
    (0.243, 2.426, 2.219, 0.99),
    (10_000.243, 10_002.426, 10_002.219, 0.99),
    (10_000.243, 10_002.426, 10_002.219, 0.2),
    (1_000.5, 1_003.0, 1_002.1, 0.9),
    (50.3, 52.0, 51.9, 0.999),
])
def test_log_hyp2f1_matches_mpmath_where_scipy_overflows(a, b, c, z):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    want = mpmath.log(mpmath.hyp2f1(a, b, c, z))
    got = clv.log_hyp2f1(a, b, c, z)
    assert np.isfinite(got)
    assert abs(float(mpmath.exp(mpmath.mpf(float(got)) - want) - 1)) < 1e-10


@pytest.mark.parametrize("x", [0.0, 10.0, 1_000.0, 10_000.0])
def test_conditional_expectation_stays_finite_for_heavy_buyers(x):
    """Seen buying at the end of 300 weeks: the closed form (paper eq. 10) in 40-digit arithmetic."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    t, t_x, T = 30.0, 300.0 if x else 0.0, 300.0
    got = float(PAPER.expected_purchases(t, x, t_x, T))
    r, alpha, a, b = (mpmath.mpf(v) for v in (PAPER.r, PAPER.alpha, PAPER.a, PAPER.b))
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
                                        * mpmath.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t)))
    odds = a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x) if x else 0
    assert np.isfinite(got) and got >= 0
    assert got == pytest.approx(float(head / (1 + odds)), rel=1e-9)
    if x == 10_000:  # the posterior rate (r+x)/(α+T) ~ 33 a week, less a little dropout
        assert 0.9 < got / t / ((PAPER.r + x) / (PAPER.alpha + T)) < 1


@pytest.mark.parametrize(("x", "t_x", "T", "message"), [
    ([0] * 50, [0] * 50, [30] * 50, "Only 0 of 50 customers bought again"),
    ([1] * 5 + [0] * 45, [3] * 5 + [0] * 45, [30] * 50, "Only 5 of 50 customers"),
])
def test_too_few_repeat_buyers_is_a_clear_error(x, t_x, T, message):
    with pytest.raises(PredictionError, match=message):
        clv.fit_bgnbd(x, t_x, T)


def test_spend_without_a_finite_mean_is_refused():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 5, 5_000)
    mean_spend = rng.pareto(0.7, 5_000) + 0.01  # heavier tail than any finite-mean Gamma-Gamma
    with pytest.raises(PredictionError, match=r"q = .* is not above 1"):
        clv.fit_gamma_gamma(x, mean_spend)


def test_expected_spend_is_the_population_mean_for_one_time_buyers():
    gg = clv.GammaGamma(p=6.25, q=3.74, gamma=15.44, customers=946)
    got = gg.expected_spend([0, 2, 2], [np.nan, 30.0, 30.0])
    assert got[0] == pytest.approx(6.25 * 15.44 / 2.74)
    assert got[1] == pytest.approx(6.25 * (15.44 + 60) / (12.5 + 2.74))


def test_no_dropout_is_the_nbd_limit_not_an_error():
    """Nobody drops out (a -> 0): a limit BG/NBD is defined at; predictions follow the buying rate."""
    rng = np.random.default_rng(5)
    n = 20_000
    lam = rng.gamma(0.8, 1 / 60.0, n)
    T = rng.integers(30, 365, n).astype(float)
    arrivals = [np.cumsum(rng.exponential(1 / rate, 2_000)) for rate in lam]
    x = np.array([max(int((a <= t).sum()), 0) for a, t in zip(arrivals, T)], dtype=float)
    t_x = np.array([a[int(k) - 1] if k else 0.0 for a, k in zip(arrivals, x)])
    fit = clv.fit_bgnbd(x, np.floor(t_x), T)
    assert fit.no_dropout
    assert (fit.r, fit.alpha) == pytest.approx((0.8, 60.0), rel=0.05)
    assert float(fit.p_alive(5, 10, 300)) > 0.99  # 290 quiet days: still "active" without dropout
    # NBD: E[Y(t) | x, T] = t (r + x) / (α + T)
    assert float(fit.expected_purchases(90, 5, 250, 300)) == pytest.approx(90 * (fit.r + 5) / (fit.alpha + 300),
                                                                            rel=0.01)


@pytest.mark.parametrize("which", ["bgnbd", "gamma_gamma"])
def test_the_analytic_gradients_are_the_likelihoods_derivatives(cdnow_fit, which):
    from scipy.optimize import check_grad

    summary = cdnow_fit[0]
    x = summary["frequency"].to_numpy(dtype=float)
    if which == "bgnbd":
        points, w = clv._distinct(x, summary["recency"], summary["T"])
        data, f, at = clv._BGNBDData(*points.T, w), clv._bgnbd_negll, np.log([0.3, 5.0, 0.7, 2.0])
    else:
        repeat = x > 0
        spend = 10 + summary["recency"].to_numpy()[repeat]  # any positive spends
        points, w = clv._distinct(x[repeat], spend)
        data, f, at = clv._GGData(*points.T, w), clv._gg_negll, np.log([5.0, 3.0, 12.0])
    error = check_grad(lambda v: f(v, data)[0], lambda v: f(v, data)[1], at)
    assert error < 1e-5 * np.linalg.norm(f(at, data)[1]) + 1e-7
