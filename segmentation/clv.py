"""BG/NBD and Gamma-Gamma: what each customer is worth next (numpy/scipy only).

BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way", Marketing Science 24(2)):
while active, a customer buys at a Poisson rate λ ~ Gamma(r, α); after each purchase they drop out
with probability p ~ Beta(a, b). Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV", JMR; Fader &
Hardie 2013 note): the spend per purchase of a customer averages ν ~ Gamma(q, γ), each purchase
Gamma(p, ν).

Both are fitted by exact maximum likelihood: log-parameters, analytic gradient, L-BFGS-B, on the
distinct data points with weights; the special functions are evaluated once per distinct x, so a
million customers cost about a second (see BENCHMARKS.md).

Time is whatever unit x, t_x and T are given in (Segmenter passes days). The model is invariant to
the unit: r, a and b do not change; α is the rate parameter of the purchase rate λ ~ Gamma(r, α),
measured in time units, so α per day = 7 × α per week (α per week = α per day ÷ 7).

The conditional expectation needs the Gauss hypergeometric 2F1(r+x, b+x; a+b+x-1; z), which
overflows for large x (it grows like (1-z)^-x); :func:`log_hyp2f1` computes its logarithm through
Euler's transformation, whose series has small parameters and converges for every z < 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln
from threadpoolctl import threadpool_limits

from .errors import PredictionError

__all__ = [
    "BGNBD",
    "GammaGamma",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "simulate_bgnbd",
    "log_hyp2f1",
    "hyp2f1",
    "MIN_REPEAT_BUYERS",
]

# Below this many customers with a repeat purchase, neither model has anything to learn the
# dropout or the spend from: the fit would return a boundary value, not an estimate.
MIN_REPEAT_BUYERS = 10
_MAX_SERIES_TERMS = 200_000


def _as_float(*arrays):
    return tuple(np.asarray(a, dtype=float) for a in arrays)


def _euler_series(a, b, c, z):
    """Σ (a)_n (b)_n / ((c)_n n!) z^n, summed term by term until the terms stop counting
    (vectorised; every argument broadcast; 0 <= z < 1)."""
    a, b, c, z = np.broadcast_arrays(*_as_float(a, b, c, z))
    shape = a.shape
    a, b, c, z = (np.ravel(v) for v in (a, b, c, z))
    total = np.ones(a.size)
    term = np.ones(a.size)
    live = np.flatnonzero(z != 0)  # the entries still summing
    n = 0
    while live.size:
        al, bl, cl, zl = a[live], b[live], c[live], z[live]
        step = term[live] * (al + n) * (bl + n) / ((cl + n) * (n + 1)) * zl
        term[live] = step
        total[live] += step
        n += 1
        # Terms may grow before they shrink (a + b > c): stop when small AND shrinking.
        shrinking = np.abs((al + n) * (bl + n) / ((cl + n) * (n + 1)) * zl) < 1
        done = (step == 0) | (shrinking & (np.abs(step) <= 1e-17 * np.abs(total[live])))
        live = live[~done]
        if n > _MAX_SERIES_TERMS:
            raise PredictionError(f"The hypergeometric series did not converge (z up to {float(z.max()):.6f}).")
    return total.reshape(shape)


def log_hyp2f1(a, b, c, z):
    """log 2F1(a, b; c; z) for 0 <= z < 1 where the function is positive (e.g. a, b, c > 0).

    Euler's transformation 2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z): the factor is
    taken in logs, so the result stays finite where the function itself overflows (x = 10,000,
    z = 0.99: 2F1 ~ 10^20000). In the BG/NBD expectation c-a and c-b are the small a+b-1-r and
    a-1, so the series on the right converges quickly and without cancellation.
    """
    a, b, c, z = np.broadcast_arrays(*_as_float(a, b, c, z))
    series = _euler_series(c - a, c - b, c, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (c - a - b) * np.log1p(-z) + np.log(series)


def hyp2f1(a, b, c, z):
    """2F1(a, b; c; z) through :func:`log_hyp2f1` (inf only where the value exceeds a float)."""
    return np.exp(log_hyp2f1(a, b, c, z))


@dataclass(frozen=True)
class BGNBD:
    """A fitted BG/NBD model. α is per time unit of the data it was fitted on (Segmenter: days;
    α per day = 7 × α per week, i.e. α per week = α per day ÷ 7; r, a, b do not depend on the unit)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int

    def _odds_dropped(self, x, t_x, T):
        """a/(b+x-1) ((α+T)/(α+t_x))^(r+x) for x > 0, else 0: the odds of having dropped out."""
        x, t_x, T = _as_float(x, t_x, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (np.log(self.a) - np.log(np.where(x > 0, self.b + x - 1, 1.0))
                        + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
        return np.where(x > 0, np.exp(np.minimum(log_odds, 700.0)), 0.0)

    @property
    def no_dropout(self) -> bool:
        """Whether the fit found (almost) no dropout: mean dropout probability a/(a+b) below 1 in
        1,000 purchases. Then p_alive is close to 1 for everyone and BG/NBD is the NBD."""
        return self.a / (self.a + self.b) < 1e-3

    def p_alive(self, x, t_x, T):
        """P(still active | x repeat purchases, the last t_x after the first, observed for T)."""
        return 1.0 / (1.0 + self._odds_dropped(x, t_x, T))

    def expected_purchases(self, t, x, t_x, T):
        """E[Y(t) | x, t_x, T]: expected purchases in the next t time units (paper's eq. 10)."""
        x, t_x, T, t = np.broadcast_arrays(*_as_float(x, t_x, T, t))
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        # ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z),
        # z = t/(α+T+t): a function of (x, T, t) alone, summed once per distinct (x, T, t).
        points, inverse = _unique_rows(x.ravel(), T.ravel(), t.ravel()) if x.size > 1 else (
            np.column_stack([x.ravel(), T.ravel(), t.ravel()]), np.zeros(x.size, dtype=np.intp))
        px, pT, pt = points.T
        z = pt / (alpha + pT + pt)
        series = _euler_series(a + b - 1 - r, a - 1, a + b + px - 1, z)
        alive_part = ((a + b + px - 1) / (a - 1) * (1.0 - np.exp((a - 1) * np.log1p(-z)) * series))
        return alive_part[inverse].reshape(x.shape) / (1.0 + self._odds_dropped(x, t_x, T))

    def expected_purchases_new(self, t):
        """E[X(t)]: expected purchases in t time units of a customer just acquired (eq. 7)."""
        t = np.asarray(t, dtype=float)
        return self.expected_purchases(t, np.zeros_like(t), np.zeros_like(t), np.zeros_like(t))

    def p_no_purchase(self, t):
        """P(X(t) = 0) for a customer just acquired: (α/(α+t))^r."""
        t = np.asarray(t, dtype=float)
        return np.exp(self.r * (np.log(self.alpha) - np.log(self.alpha + t)))

    def params(self) -> dict:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b, "log_likelihood": self.log_likelihood}


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma spend model (money per purchase; fitted on repeat buyers)."""

    p: float
    q: float
    gamma: float
    customers: int
    log_likelihood: float = float("nan")

    @property
    def mean_spend(self) -> float:
        """The population's expected spend per purchase, p γ / (q - 1)."""
        return self.p * self.gamma / (self.q - 1)

    def expected_spend(self, x, mean_spend):
        """E[spend per purchase | x repeat purchases averaging mean_spend]; the population mean
        for customers with no repeat purchase (x = 0)."""
        x, m = _as_float(x, mean_spend)
        m = np.where(x > 0, np.nan_to_num(m), 0.0)
        return self.p * (self.gamma + m * x) / (self.p * x + self.q - 1)

    def params(self) -> dict:
        return {"p": self.p, "q": self.q, "gamma": self.gamma, "customers": self.customers}


def _distinct(*columns, weights=None):
    """The distinct rows of `columns` and the weight of each (customers sharing it)."""
    w = np.ones(len(columns[0])) if weights is None else np.asarray(weights, dtype=float)
    unique, inverse = _unique_rows(*columns)
    return unique, np.bincount(inverse, weights=w, minlength=len(unique))


def _unique_rows(*columns):
    """np.unique(rows, axis=0, return_inverse=True), on one int64 key when every column holds
    small whole numbers (days, counts: ~20x faster on a million rows)."""
    arrays = [np.asarray(c, dtype=float) for c in columns]
    spans = [float(a.max()) + 1 if a.size else 1.0 for a in arrays]
    whole = all(a.size and a.min() >= 0 and np.all(a == np.floor(a)) for a in arrays)
    if whole and np.prod(spans) < 2.0 ** 62:
        key = np.zeros(arrays[0].size, dtype=np.int64)
        for a, span in zip(arrays, spans):
            key = key * int(span) + a.astype(np.int64)
        inverse, keys = pd.factorize(key, sort=False)  # hashing: no sort of a million keys
        first = np.full(keys.size, -1, dtype=np.int64)
        first[inverse[::-1]] = np.arange(inverse.size - 1, -1, -1)  # the first row of each key
        return np.column_stack([a[first] for a in arrays]), inverse.astype(np.intp)
    unique, inverse = np.unique(np.column_stack(arrays), axis=0, return_inverse=True)
    return unique, inverse.ravel()


class _BGNBDData:
    """Distinct (x, t_x, T) with weights, laid out so that each likelihood evaluation computes the
    costly special functions once per distinct x, and the logs once per distinct t_x and T."""

    def __init__(self, x, t_x, T, w):
        self.total = float(w.sum())
        self.ux, ix = np.unique(x, return_inverse=True)
        self.wx = np.bincount(ix, weights=w)  # customers per x
        self.uT, iT = np.unique(T, return_inverse=True)
        self.ut, it = np.unique(t_x, return_inverse=True)
        once = x == 0
        self.w0T = np.bincount(iT[once], weights=w[once], minlength=self.uT.size)  # one-time buyers per T
        rep = ~once
        self.ix, self.iT, self.it, self.w = ix[rep], iT[rep], it[rep], w[rep]
        self.x = x[rep]


def _bgnbd_negll(log_params, data: _BGNBDData):
    """Minus the mean BG/NBD log-likelihood (paper eq. 6) and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    ux, wx = data.ux, data.wx
    # Terms of x alone: log Γ(r+x)/Γ(r) α^r + log B(a, b+x)/B(a, b)
    ll = wx @ (gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + betaln(a, b + ux) - betaln(a, b))
    dg_ab = digamma(a + b)
    dg_abx = digamma(a + b + ux)
    d_r = wx @ (digamma(r + ux) - digamma(r) + np.log(alpha))
    d_alpha = data.total * r / alpha
    d_a = wx @ (dg_ab - dg_abx)
    d_b = wx @ (dg_ab + digamma(b + ux) - digamma(b) - dg_abx)
    # One-time buyers: -(r) log(α+T)
    log_aT = np.log(alpha + data.uT)
    ll -= r * (data.w0T @ log_aT)
    d_r -= data.w0T @ log_aT
    d_alpha -= r * (data.w0T @ (1.0 / (alpha + data.uT)))
    # Repeat buyers: log[(α+T)^-(r+x) + a/(b+x-1) (α+t_x)^-(r+x)] = a3 + softplus(a4 - a3)
    w = data.w
    rx = r + data.x
    LT = log_aT[data.iT]
    Lt = np.log(alpha + data.ut)[data.it]
    log_bx1 = np.log(b + data.ux - 1.0 + (data.ux == 0))[data.ix]
    d = np.log(a) - log_bx1 + rx * (LT - Lt)
    # softplus(d) = log(1 + e^d) and w4 = e^d / (1 + e^d) (the weight of the "dropped after the
    # last purchase" term), stably, from one exp and one log1p.
    e = np.exp(-np.abs(d))
    positive = d > 0
    w4 = np.where(positive, 1.0, e) / (1.0 + e)
    ll += w @ (np.where(positive, d, 0.0) + np.log1p(e) - rx * LT)
    d_r += w @ (w4 * (LT - Lt) - LT)
    inv_T = (1.0 / (alpha + data.uT))[data.iT]
    inv_t = (1.0 / (alpha + data.ut))[data.it]
    d_alpha -= (w * rx) @ (inv_T + w4 * (inv_t - inv_T))
    ww4 = w @ w4
    d_a += ww4 / a
    d_b -= (w * w4) @ np.exp(-log_bx1)
    grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return -ll / data.total, -grad / data.total


# A shape parameter (r, a, b; p, q) beyond 10^±4 is the optimiser running along a ridge to a
# boundary (all customers alike, or nobody dropping out), not an estimate.
_SHAPE_LIMIT = np.log(1e4)


def _minimise(negll, start, args, what: str, shapes: tuple[int, ...], free: tuple[tuple[int, int], ...] = ()):
    """L-BFGS-B from `start`; `shapes` may not run past 10^±4, nor any parameter to its bound,
    except the (index, direction) pairs in `free`, limits the model is defined at."""
    # One BLAS thread: the dot products are of vectors, and OpenBLAS's idle threads spinning
    # on a shared machine made the fits 4-7x slower (measured; see BENCHMARKS.md).
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), threadpool_limits(limits=1, user_api="blas"):
        found = minimize(negll, start, args=args, jac=True, method="L-BFGS-B",
                         bounds=[(-30.0, 30.0)] * len(start),
                         options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-10})
    if not np.all(np.isfinite(found.x)) or not np.isfinite(found.fun):
        raise PredictionError(f"The {what} fit did not converge ({found.message}).",
                              hint="More customers, or a longer history per customer, may help.")
    beyond = (np.abs(found.x) >= 29.9) | np.isin(np.arange(found.x.size), shapes) & (np.abs(found.x) > _SHAPE_LIMIT)
    for index, direction in free:
        beyond[index] &= np.sign(found.x[index]) != direction
    if beyond.any():
        raise PredictionError(f"The {what} fit ran to a parameter of 0 or infinity: these customers' purchases do "
                              "not vary enough between them for the model to be estimated.",
                              hint="More customers with repeat purchases, or a longer history, are needed.")
    if not found.success and np.max(np.abs(found.jac)) > 1e-5:
        raise PredictionError(f"The {what} fit did not converge ({found.message}).",
                              hint="More customers, or a longer history per customer, may help.")
    return found


def fit_bgnbd(x, t_x, T, weights=None) -> BGNBD:
    """Maximum-likelihood BG/NBD on x (repeat purchases), t_x (time of the last purchase after
    the first) and T (time observed since the first purchase), in one time unit.

    Raises PredictionError when there are too few repeat buyers or the fit does not converge."""
    x, t_x, T = _as_float(x, t_x, T)
    if x.size == 0:
        raise PredictionError("There are no customers to fit the purchase model on.")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(T < t_x) or not np.all(np.isfinite(np.r_[x, t_x, T])):
        raise PredictionError("The purchase summary is inconsistent (negative counts or a last purchase after "
                              "the end of the period).")
    points, w = _distinct(x, t_x, T, weights=weights)
    px, pt_x, pT = points.T
    repeat_buyers = float(w[px > 0].sum())
    if repeat_buyers < MIN_REPEAT_BUYERS:
        raise PredictionError(
            f"Only {repeat_buyers:,.0f} of {w.sum():,.0f} customers bought again after their first purchase day: "
            f"at least {MIN_REPEAT_BUYERS} repeat buyers are needed to predict purchases.",
            hint="Use a longer period of transactions.")
    if float(pT.max()) <= 0:
        raise PredictionError("Every customer was observed for less than a day: there is no time to learn from.",
                              hint="Use a longer period of transactions.")
    total = float(w.sum())
    mean_T = float((w @ pT) / total) or 1.0
    start = np.log([1.0, mean_T, 1.0, 1.0])
    # a -> 0 or b -> infinity is "nobody drops out" (BG/NBD becomes the NBD): a limit the model
    # is defined at and predicts from, so those two directions are free (see BGNBD.no_dropout).
    found = _minimise(_bgnbd_negll, start, (_BGNBDData(px, pt_x, pT, w),), "purchase model (BG/NBD)",
                      shapes=(0, 2, 3), free=((2, -1), (3, 1)))
    r, alpha, a, b = np.exp(found.x)
    return BGNBD(r=float(r), alpha=float(alpha), a=float(a), b=float(b),
                 log_likelihood=float(-found.fun * total), customers=int(round(total)))


class _GGData:
    """Distinct (x, mean spend) with weights; the terms of x alone are computed per distinct x and
    the sums of logs of spend once."""

    def __init__(self, x, m, w):
        self.total = float(w.sum())
        self.ux, ix = np.unique(x, return_inverse=True)
        self.wx = np.bincount(ix, weights=w)
        self.wx_logx = self.wx * self.ux * np.log(self.ux)  # Σ w x log x per x
        self.sum_wx = float(self.wx @ self.ux)
        self.x, self.m, self.w, self.ix = x, m, w, ix
        log_m = np.log(m)
        self.sum_w_logm = float(w @ log_m)
        self.sum_wx_logm = float((w * x) @ log_m)


def _gg_negll(log_params, data: _GGData):
    """Minus the mean Gamma-Gamma log-likelihood of mean spends (Fader & Hardie 2013) and its
    gradient in log-parameters."""
    p, q, g = np.exp(log_params)
    ux, wx = data.ux, data.wx
    pux = p * ux
    dg_pxq = digamma(pux + q)
    ll = (wx @ (gammaln(pux + q) - gammaln(pux)) - data.total * (gammaln(q) - q * np.log(g))
          + p * data.sum_wx_logm - data.sum_w_logm + p * data.wx_logx.sum())
    d_p = (wx * ux) @ (dg_pxq - digamma(pux)) + data.sum_wx_logm + data.wx_logx.sum()
    d_q = wx @ dg_pxq - data.total * (digamma(q) - np.log(g))
    d_g = data.total * q / g
    x, w = data.x, data.w
    gxm = g + data.m * x
    log_gxm = np.log(gxm)
    pxq = p * x + q
    ll -= w @ (pxq * log_gxm)
    d_p -= (w * x) @ log_gxm
    d_q -= w @ log_gxm
    d_g -= w @ (pxq / gxm)
    grad = np.array([d_p * p, d_q * q, d_g * g])
    return -ll / data.total, -grad / data.total


def fit_gamma_gamma(x, mean_spend, weights=None) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma on the customers with x > 0 repeat purchases and a positive
    mean spend per repeat purchase (the others are left out, as the model requires).

    Raises PredictionError with too few such customers, or when q <= 1 (no finite mean spend)."""
    x, m = _as_float(x, mean_spend)
    w_all = np.ones(x.size) if weights is None else np.asarray(weights, dtype=float)
    usable = (x > 0) & np.isfinite(m) & (m > 0)
    if usable.sum() < MIN_REPEAT_BUYERS:
        raise PredictionError(
            f"Only {int(usable.sum()):,} customers have a repeat purchase with money spent: at least "
            f"{MIN_REPEAT_BUYERS} are needed to predict spend per purchase.",
            hint="Use a longer period of transactions.")
    # Mean spends are continuous (nearly all distinct): the customers are the data points.
    px, pm, w = x[usable], m[usable], w_all[usable]
    total = float(w.sum())
    start = np.array([0.0, np.log(2.0), np.log(float(np.median(pm)))])
    found = _minimise(_gg_negll, start, (_GGData(px, pm, w),), "spend model (Gamma-Gamma)", shapes=(0, 1))
    p, q, g = np.exp(found.x)
    if q <= 1:
        raise PredictionError(
            f"The spend model's q = {q:.3f} is not above 1: spend per purchase varies so much between customers "
            "that it has no finite average.",
            hint="Check for a few extreme amounts (e.g. a wholesale order) and filter them out.")
    return GammaGamma(p=float(p), q=float(q), gamma=float(g), customers=int(round(total)),
                      log_likelihood=float(-found.fun * total))


def simulate_bgnbd(lam, p, T, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The BG/NBD purchase process of customers with purchase rates ``lam`` and drop-out
    probabilities ``p``, each observed for ``T`` time units after their first purchase:
    ``(x, t_x)``, repeat purchases and the time of the last one (0 without any). The caller draws
    ``lam`` ~ Gamma(r, α) and ``p`` ~ Beta(a, b) (planted parameters for a test, a benchmark).

    >>> rng = np.random.default_rng(0)
    >>> x, t_x = simulate_bgnbd(np.array([0.5, 1e-9]), np.array([0.0, 0.0]), np.array([10.0, 10.0]), rng)
    >>> bool(x[0] > 0 and 0 < t_x[0] <= 10), float(x[1]), float(t_x[1])
    (True, 0.0, 0.0)
    """
    lam, p, T = _as_float(lam, p, T)
    n = lam.size
    x, t_x, now = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        now[idx] += rng.exponential(1 / lam[idx])
        inside = now[idx] <= T[idx]
        bought = idx[inside]
        x[bought] += 1
        t_x[bought] = now[bought]
        dropped = rng.random(bought.size) < p[bought]
        alive[idx[~inside]] = False
        alive[bought[dropped]] = False
    return x, t_x
