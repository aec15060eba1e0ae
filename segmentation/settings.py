"""Every default of the product, declared once.

The CLI, the app, the docs and the tests read these tables; nothing else hard-codes them.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from .errors import ParameterError

__all__ = [
    "Role",
    "ROLES",
    "REQUIRED_ROLES",
    "Rule",
    "CLEANING_RULES",
    "RULE_NAMES",
    "PAID_STATUSES",
    "NOT_PAID_STATUSES",
    "status_key",
    "status_treatment",
    "CleaningSettings",
    "cleaning_rules_markdown",
    "DEFAULT_SEED",
    "K_SCAN_RANGE",
    "K_SUGGEST_RANGE",
    "SILHOUETTE_SAMPLE_SIZE",
    "SCORE_BINS",
    "SWITCHABLE_RULES",
    "ROLE_NAMES",
    "N_INIT",
    "SEGMENT_MAP",
    "RFM_SEGMENT_ACTIONS",
    "rfm_segment_name",
    "NON_PRODUCT_WORDS",
    "MAX_UPLOAD_MB",
    "MODEL_THREADS",
    "SILHOUETTE_THREADS",
    "SCAN_THREADS",
    "FAST_KMEANS_MIN_CUSTOMERS",
    "KMEANS_SAMPLE_SIZE",
    "DUCKDB_MEMORY_LIMIT",
    "LARGE_FILE_BYTES",
    "LARGE_PARQUET_ROWS",
    "STREAM_BATCH_ROWS",
    "STABILITY_RESAMPLES",
    "STABILITY_SAMPLE_SIZE",
    "STABILITY_BANDS",
    "STABILITY_COLUMNS",
    "STABLE_THRESHOLD",
    "SEED_CHECK_SEEDS",
    "SEED_AGREEMENT_MIN",
    "BORDERLINE_SHARE",
]


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    required: str  # one of REQUIRED_VALUES
    aliases: tuple[str, ...]  # normalised header names (lower case, no spaces/_/-)
    help: str

    def __post_init__(self):
        if self.required not in REQUIRED_VALUES:
            raise ParameterError(f"Role {self.name!r}: required={self.required!r} must be one of "
                                 f"{_names(map(repr, REQUIRED_VALUES))}.")
        if not self.name.isidentifier():
            raise ParameterError(f"Role name {self.name!r} must be a lower-case identifier like 'customer'.")


REQUIRED_VALUES = ("yes", "no", "quantity+price or amount")


# Header aliases are compared after normalising: lower case, with spaces, '_', '-', '.' removed.
ROLES: tuple[Role, ...] = (
    Role("customer", "Customer", "yes",
         ("customerid", "customer", "customerno", "customernumber", "customerkey", "custid",
          "clientid", "client", "clientno", "memberid", "member", "userid", "user", "buyerid",
          "buyer", "accountid", "account", "kundennummer", "kunde", "clientnumber", "kundennr", "numeroclient",
          "numéroclient", "nclient", "codeclient", "customeruniqueid"),
         "Who bought: one id per customer."),
    Role("date", "Purchase date", "yes",
         ("invoicedate", "orderdate", "date", "purchasedate", "transactiondate", "datetime",
          "timestamp", "saledate", "orderdatetime", "createdat", "created", "time", "datum",
          "createdutc", "createddate", "createddateutc",
          "invoicetime", "ordertime", "transactiontime", "purchasetime", "rechnungsdatum", "bestelldatum",
          "datedecommande", "datedefacture", "orderpurchasetimestamp"),
         "When the purchase happened."),
    Role("quantity", "Quantity", "quantity+price or amount",
         ("quantity", "qty", "units", "unitssold", "count", "quantityordered", "menge", "pieces",
          "items", "numberofitems", "lineitemquantity", "quantité", "quantite", "anzahl"),
         "How many units on the line."),
    Role("price", "Unit price", "quantity+price or amount",
         ("unitprice", "price", "priceeach", "itemprice", "priceperunit", "unitcost", "rate",
          "preis", "sellingprice", "salesprice", "lineitemprice", "einzelpreis", "stückpreis", "prixunitaire",
          "prixunitaireht", "itemcost"),
         "Price of one unit."),
    Role("amount", "Line amount", "quantity+price or amount",
         ("amount", "total", "revenue", "sales", "linetotal", "totalprice", "totalamount",
          "value", "ordervalue", "salesamount", "netamount", "grossamount", "spend", "turnover",
          "umsatz", "betrag", "subtotal", "payment", "paymentvalue", "montant", "montantht", "montantttc",
          "netsales", "gesamtbetrag", "gesamtpreis", "gross", "itemtotal"),
         "Money of the whole line, when the file has no quantity and unit price."),
    Role("invoice", "Invoice / order", "no",
         ("invoiceno", "invoice", "invoicenumber", "invoiceid", "orderid", "order", "orderno",
          "ordernumber", "transactionid", "transaction", "receipt", "receiptid", "basketid",
          "billno", "rechnungsnummer", "rechnungsnr", "bestellnummer", "belegnummer", "facture", "numerodefacture",
          "numérodefacture", "nfacture", "numerodecommande", "numérodecommande", "ncommande"),
         "Groups lines into one purchase; frequency counts these. Without it, distinct purchase times are counted."),
    Role("product", "Product", "no",
         ("stockcode", "product", "productid", "sku", "itemid", "item", "productcode",
          "articleid", "article", "itemcode", "productno", "lineitemsku", "variantsku", "artikelnummer",
          "artikelnr", "artikel", "itemsku",
          "produkt", "référence", "reference", "ref", "réf", "codeproduit", "produit",
          "productname", "itemname", "itemdescription"),
         "Product code, for top products per segment. When two columns could be the product, the short "
         "code-like one is the product and the one of names the description."),
    Role("description", "Description", "no",
         ("description", "productname", "itemname", "itemdescription", "productdescription",
          "name", "title", "bezeichnung", "lineitemname", "articlename", "artikelbezeichnung", "produktname",
          "désignation", "designation", "libellé", "libelle", "product", "item", "article", "itemtitle"),
         "Product description."),
    Role("country", "Country", "no",
         ("country", "countryname", "region", "market", "land", "countrycode", "nation", "pays",
          "billingcountry", "shippingcountry"),
         "Where the customer is, for filters and top countries per segment."),
    Role("email", "Email", "no",
         ("email", "emailaddress", "mail", "mailaddress", "customeremail", "clientemail", "contactemail",
          "emailid", "useremail", "buyeremail", "memberemail", "fromemailaddress", "payeremail", "billingemail",
          "customeremailaddress"),
         "The customer's email address, carried into the audience files (the most recent one per customer). "
         "Never used for segments or charts. With no customer id column it identifies the customer; "
         "next to one, it stands in for a blank id (or WooCommerce's 0 for a guest checkout)."),
    Role("status", "Order / payment status", "no",
         ("status", "financialstatus", "paymentstatus", "orderstatus", "transactionstatus", "chargestatus",
          "paymentstate", "orderstate", "zahlungsstatus", "bestellstatus", "statut", "statutdepaiement"),
         "Whether the order was paid: only paid, completed or succeeded orders count; refunded, cancelled, "
         "failed, pending or authorised-only ones go under the 'Order not paid' rule (see PAYMENT_STATUSES)."),
    Role("refunded", "Refunded amount", "no",
         ("refundedamount", "amountrefunded", "refunded", "refundamount", "totalrefunded",
          "itemrefunded", "partialrefunds", "refunds", "erstattet", "montantrembourse",
          "montantremboursé"),
         "Money given back on a paid order (a partial refund): subtracted from the order's money."),
    Role("currency", "Currency", "no",
         ("currency", "currencycode", "ordercurrency", "currencyiso", "währung", "wahrung", "devise", "moneda"),
         "The currency of the money columns: several currencies in one file stop with a message instead of "
         "being added up."),
)
REQUIRED_ROLES = ("customer", "date")
ROLE_NAMES = tuple(role.name for role in ROLES)


@dataclass(frozen=True)
class Rule:
    """A cleaning rule as people see it. Its predicate lives in cleaning.py (`cleaning.RULES`)."""

    name: str
    label: str
    help: str
    switchable: bool = False  # whether a user can switch it off
    amount_name: str | None = None  # the name reported instead for files with a line amount
    amount_label: str | None = None  # and its label then

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ParameterError(f"Rule name {self.name!r} must be a lower-case identifier like 'cancelled'.")


# Order matters: each dropped row is counted under the first rule that drops it.
# The first three always run: a row without a readable date, number or customer id cannot be
# given recency, frequency or monetary value. The date and country rules are driven by the
# filters, the last by the data.
CLEANING_RULES: tuple[Rule, ...] = (
    Rule("invalid_date", "Missing or unreadable date", "The date cell is blank or does not read as a date."),
    Rule("invalid_number", "Missing or unreadable number",
         "Quantity, price or amount is blank, not a number, or infinite."),
    Rule("missing_customer", "No customer id", "Guest or anonymous purchases cannot be attributed to a customer."),
    Rule("duplicate", "Exact duplicate row",
         "The same row appears more than once: every column equal, including columns not used. One copy is kept.",
         switchable=True),
    Rule("not_paid", "Order not paid: refunded, cancelled or failed",
         "The order or payment status says it was refunded, cancelled or voided, failed or declined, is still "
         "pending or only authorised, or disputed (files with a status column; unknown values are kept and listed).",
         switchable=True),
    Rule("cancelled", "Cancelled invoice",
         "Invoice number is 'C' followed by digits (a cancellation, as in C536379); ids that merely begin "
         "with C, such as Stripe's ch_… or PayPal transaction ids, are not cancellations.", switchable=True),
    Rule("non_positive_quantity", "Quantity zero or negative", "Returns and corrections.", switchable=True),
    Rule("non_positive_price", "Price zero or negative",
         "Free items, adjustments and bad debt (or a line amount of zero or less, for amount files).",
         switchable=True, amount_name="non_positive_amount", amount_label="Line amount zero or negative"),
    Rule("outside_date_range", "Outside the chosen date range", "User filter: purchase date outside the range."),
    Rule("country_filtered", "Country filtered out", "User filter: country not included, or excluded."),
    Rule("non_positive_customer_total", "Customer's net revenue zero or negative",
         "Customers whose kept lines add up to zero or less: returns netted against purchases, "
         "or only free lines when the zero-price rule is off."),
)
RULE_NAMES = tuple(rule.name for rule in CLEANING_RULES)

# What a status value means for the `not_paid` rule, compared in lower case without spaces, '_' or
# '-' ('Partially Refunded', 'partially_refunded' → 'partiallyrefunded'). The values are those the
# platforms document: Shopify's financial status, WooCommerce's order status, Stripe's payment status,
# PayPal's and Square's transaction status. A partially refunded order was paid: it counts, net of
# the refunded amount where the file gives it (role `refunded`). Any other value is kept and listed
# as not recognised (never guessed).
PAID_STATUSES = frozenset({
    "paid", "completed", "complete", "succeeded", "success", "successful", "captured", "settled", "processing",
    "partiallyrefunded", "partiallypaid", "cleared", "bezahlt", "payé", "paye",
    "abgeschlossen",
})
NOT_PAID_STATUSES = frozenset({
    "refunded", "fullyrefunded", "cancelled", "canceled", "voided", "void", "failed", "declined", "denied",
    "pending", "onhold", "authorized", "authorised", "approved", "uncaptured", "requirescapture",
    "requirespaymentmethod", "requiresaction", "disputed", "chargeback", "chargedback", "reversed", "expired",
    "blocked", "unpaid",
    "incomplete", "draft", "checkoutdraft", "trash", "storniert", "erstattet", "annulé", "annule",
    "remboursé", "rembourse", "échoué", "echoue",
})


def status_key(value: str) -> str:
    """A status as PAID_STATUSES and NOT_PAID_STATUSES hold it: lower case, letters only."""
    return "".join(ch for ch in str(value).casefold() if ch.isalpha())


def status_treatment(value: str | None) -> str:
    """'paid' (counted), 'not paid' (dropped by the `not_paid` rule) or 'unknown' (kept, listed)."""
    if value is None or not str(value).strip():
        return "unknown"
    key = status_key(value)
    if key in PAID_STATUSES:
        return "paid"
    return "not paid" if key in NOT_PAID_STATUSES else "unknown"


# Rules a user can switch off (CleaningSettings.rules holds those that are on).
SWITCHABLE_RULES = tuple(rule.name for rule in CLEANING_RULES if rule.switchable)


def cleaning_rules_markdown() -> str:
    """The rules as a Markdown table, in cleaning order (README.md shows it; a test keeps it current)."""
    lines = ["| Rule | What it removes | Can be switched off |", "|---|---|---|"]
    for rule in CLEANING_RULES:
        name = f"`{rule.name}`" + (f" (`{rule.amount_name}` for files with a line amount)" if rule.amount_name else "")
        lines.append(f"| {name} | {rule.label}: {rule.help} | {'yes' if rule.switchable else 'no'} |")
    return "\n".join(lines)


def _names(names: Iterable[str]) -> str:
    return ", ".join(names)


def _text_tuple(value: object, field_name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ParameterError(f"{field_name}={value!r} must be a list of country names, not {type(value).__name__}.",
                             hint="Give e.g. ('France', 'Germany').", parameter=field_name)
    return tuple(value)


@dataclass(frozen=True)
class CleaningSettings:
    """What the user chose on the cleaning screen (or on the command line).

    Checked on construction (also by `dataclasses.replace`): `rules` names switchable rules only,
    the date range is not reversed, and no country is both included and excluded.
    """

    rules: frozenset[str] = field(default_factory=lambda: frozenset(SWITCHABLE_RULES))
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    countries_include: tuple[str, ...] = ()  # empty: all countries
    countries_exclude: tuple[str, ...] = ()
    net_returns: bool = False  # keep cancellations/returns as negative revenue instead of dropping them

    def __post_init__(self):
        if isinstance(self.rules, str) or not isinstance(self.rules, Iterable):
            raise ParameterError(f"rules={self.rules!r} must be a set of rule names, not {type(self.rules).__name__}.",
                                 hint=f"Rules that can be switched: {_names(SWITCHABLE_RULES)}.", parameter="rules")
        object.__setattr__(self, "rules", frozenset(self.rules))
        unknown = sorted(self.rules - set(SWITCHABLE_RULES))
        if unknown:
            raise ParameterError(" ".join(map(_not_switchable, unknown)),
                                 hint=f"Rules that can be switched: {_names(SWITCHABLE_RULES)}.", parameter="rules")
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise ParameterError(f"{name}={value!r} must be a date (datetime.date), not {type(value).__name__}.",
                                     parameter=name)
        if self.date_from is not None and self.date_to is not None and self.date_from > self.date_to:
            raise ParameterError(f"The date range starts on {self.date_from.isoformat()}, after it ends on "
                                 f"{self.date_to.isoformat()}.", hint="Swap the two dates.", parameter="date_from")
        include = _text_tuple(self.countries_include, "countries_include")
        exclude = _text_tuple(self.countries_exclude, "countries_exclude")
        object.__setattr__(self, "countries_include", include)
        object.__setattr__(self, "countries_exclude", exclude)
        both = [country for country in dict.fromkeys(include) if country in set(exclude)]
        if both:
            which = f"Country {both[0]!r} is" if len(both) == 1 else f"Countries {_names(map(repr, both))} are"
            raise ParameterError(f"{which} in both the include list and the exclude list.",
                                 hint="Leave each country in one of the two lists only.", parameter="countries_exclude")
        if not isinstance(self.net_returns, bool):
            raise ParameterError(f"net_returns={self.net_returns!r} must be True or False.", parameter="net_returns")

    def with_rule(self, name: str, enabled: bool) -> CleaningSettings:
        if name not in SWITCHABLE_RULES:  # also when switching off, which would otherwise pass unnoticed
            raise ParameterError(_not_switchable(name), hint=f"Rules that can be switched: {_names(SWITCHABLE_RULES)}.",
                                 parameter="rules")
        rules = set(self.rules)
        (rules.add if enabled else rules.discard)(name)
        return replace(self, rules=frozenset(rules))


def _not_switchable(name: str) -> str:
    by_amount_name = {rule.amount_name: rule.name for rule in CLEANING_RULES if rule.amount_name}
    if name in by_amount_name:
        return (f"Rule {name!r} is how {by_amount_name[name]!r} is reported for files with a line amount; "
                f"switch {by_amount_name[name]!r}.")
    if name in RULE_NAMES:
        return f"Rule {name!r} always runs; it cannot be switched."
    return f"There is no cleaning rule {name!r}."


DEFAULT_SEED = 42
# The `--out` columns, in order: a contract other tools rely on (append, never rename); the report,
# the CLI, the API (`Result.customers`) and the app read it from here.
OUTPUT_COLUMNS = [
    "customer_id", "recency", "frequency", "monetary", "segment_id", "segment",
    "r_score", "f_score", "m_score", "rfm_segment",
    "tenure", "avg_order_value", "first_purchase", "last_purchase", "country", "action",
    "margin", "borderline",
]
K_SCAN_RANGE = (2, 10)  # inclusive
K_SUGGEST_RANGE = (3, 8)  # inclusive: a number of segments a marketing team can act on
SILHOUETTE_SAMPLE_SIZE = 10_000  # silhouette is O(n²): above this many customers use a fixed-seed sample
N_INIT = 10
SCORE_BINS = 5
MAX_UPLOAD_MB = 200  # also in .streamlit/config.toml (server.maxUploadSize)

# The standard R×F segment map: (name, recency scores, frequency scores), first match wins.
SEGMENT_MAP: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("Champions", (5,), (4, 5)),
    ("Loyal Customers", (3, 4), (4, 5)),
    ("Potential Loyalists", (4, 5), (2, 3)),
    ("New Customers", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need Attention", (3,), (3,)),
    ("About to Sleep", (3,), (1, 2)),
    ("At Risk", (1, 2), (3, 4)),
    ("Can't Lose Them", (1, 2), (5,)),
    ("Hibernating", (1, 2), (1, 2)),
)

RFM_SEGMENT_ACTIONS: dict[str, str] = {
    "Champions": "Reward them: early access, loyalty perks and referral asks; no discounts needed.",
    "Loyal Customers": "Upsell higher-value products and invite them to review and refer.",
    "Potential Loyalists": "Offer membership or a loyalty programme to turn repeat buying into a habit.",
    "New Customers": "Onboard well: welcome series, how-to content, a reason for the second order.",
    "Promising": "Build awareness of the range with free-shipping thresholds and bundles.",
    "Need Attention": "Send limited-time, personalised offers based on past purchases.",
    "About to Sleep": "Reconnect with popular products and a time-limited discount before they lapse.",
    "At Risk": "Win them back with personal emails, renewals and a strong offer.",
    "Can't Lose Them": "Call or write personally, ask what changed, and make a generous win-back offer.",
    "Hibernating": "Include in low-cost reactivation campaigns only; do not spend heavily.",
}


# Lines that are not products — postage, fees, manual adjustments — never show as a segment's top
# products. A line is one when its description or code contains one of these words (whole words,
# any case): POSTAGE, DOTCOM POSTAGE, CARRIAGE, Manual, Discount, Bank Charges, AMAZON FEE, CRUK
# Commission, Adjust bad debt, SAMPLES, gift vouchers on the UCI file.
NON_PRODUCT_WORDS: tuple[str, ...] = (
    "postage", "carriage", "shipping", "delivery", "freight", "manual", "discount", "fee", "fees", "charge",
    "charges", "commission", "adjust", "adjustment", "samples", "voucher", "vouchers", "refund", "tax", "vat",
)


def rfm_segment_name(r_score: int, f_score: int) -> str:
    """The named segment of one (R, F) pair, from SEGMENT_MAP."""
    for name, r_scores, f_scores in SEGMENT_MAP:
        if r_score in r_scores and f_score in f_scores:
            return name
    raise ValueError(f"r_score={r_score}, f_score={f_score} is outside the segment map (scores are 1-5).")

# --- performance (see BENCHMARKS.md for the measurements behind these numbers) ---------------
# scikit-learn's K-Means runs OpenMP threads that busy-wait at every barrier. On a shared or
# busy machine (other processes on the cores) that makes a K scan 10-50x slower than one thread:
# 20-30 s instead of 0.4 s for K=2..10 on 4,339 customers, load average 8-10 on 2 cores. One thread is
# never far from the best and never pathological, so the model runs single-threaded.
MODEL_THREADS = 1
# The one-pass silhouette (model.silhouettes) is large matrix products: there BLAS threads pay
# (0.55 s instead of 1.06 s on its 10,000-customer sample with 2 cores).
SILHOUETTE_THREADS = max(1, min(4, os.cpu_count() or 1))
# The K scan fits its K values side by side on this many threads, each K-Means on MODEL_THREADS
# (independent fits, each with its own seed: the scan is the same whatever the thread timing).
SCAN_THREADS = max(1, min(4, os.cpu_count() or 1))
# Above this many customers the K scan fits each K on a fixed-seed sample of KMEANS_SAMPLE_SIZE
# customers (exact K-Means, N_INIT restarts) and assigns every customer to the nearest centre;
# inertia, Calinski-Harabasz and Davies-Bouldin are then computed on all customers. On planted
# data the sampled fit agrees with full K-Means (ARI >= 0.95, tests/test_performance_paths.py).
# MiniBatchKMeans was measured too: slower (15-23 s vs 3 s for K=2..10 on 1M customers) and
# less faithful (ARI 0.62-0.98 depending on batch size) than this. The final fit above this size
# runs its restarts on the same sample, then one K-Means on everyone (model.fit_labels).
# At 100k: the exact scan on 166k customers (10M demo rows) took 4.5 s, the sampled one ~1 s.
FAST_KMEANS_MIN_CUSTOMERS = 100_000
KMEANS_SAMPLE_SIZE = 50_000
# DuckDB limits for the large-file path (segmentation/largefile.py): the engine spills to the
# temp directory rather than exceed the memory limit.
DUCKDB_MEMORY_LIMIT = "3GB"
LARGE_FILE_BYTES = 256 * 1024 * 1024  # a Parquet path at least this big is streamed instead of read whole
# ... and so is one with at least this many rows (Parquet compresses to ~6 bytes a row: 10M rows
# are a 63 MB file but 7 GB once read whole and parsed; streamed they stay within DUCKDB_MEMORY_LIMIT).
LARGE_PARQUET_ROWS = 2_000_000
STREAM_BATCH_ROWS = 1_000_000

# --- stability (segmentation/stability.py) ----------------------------------------------------
# Hennig's bootstrap (R fpc::clusterboot): refit on resamples of the customers, compare with the
# fit on all of them. Resamples are drawn from a fixed-seed sample of at most this many customers
# (the "capped sample"); every fit uses the main fit's K-Means settings (N_INIT, one thread).
STABILITY_RESAMPLES = 20
STABILITY_SAMPLE_SIZE = 20_000
# clusterboot's bands for a segment's mean Jaccard with its best match across resamples, also
# used for a K's mean adjusted Rand index: (lowest value of the band, what a marketer reads).
STABILITY_BANDS: tuple[tuple[float, str], ...] = (
    (0.85, "highly stable"),
    (0.75, "stable"),
    (0.60, "doubtful"),
    (float("-inf"), "not to be trusted"),
)
STABLE_THRESHOLD = 0.75  # a K (or a segment) at least this stable is "stable"
# The stability columns of a K scan (stability.stability_scan), null in the report when not computed.
STABILITY_COLUMNS = ("stability", "stability_low", "stability_high")
# Seed check: the chosen K is fitted under this many seeds (the seed in use and the next ones);
# a mean pairwise adjusted Rand index below SEED_AGREEMENT_MIN is reported as a warning.
SEED_CHECK_SEEDS = 5
SEED_AGREEMENT_MIN = 0.9
# A customer is "borderline" when its margin (distance to the second-nearest segment centre minus
# the distance to its nearest, in the model's scaled space) is among the lowest this share.
BORDERLINE_SHARE = 0.10
