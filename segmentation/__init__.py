"""Segmenter's core: transactions in, RFM features and named K-Means segments out.

Pure functions over DataFrames/Arrow/Ibis tables and parameters; no Streamlit, no global state.
From a notebook: ``segmentation.segment(df)`` (customers, segments, fitted model) and
``segmentation.rfm(df)`` (one row per customer), ``segmentation.predict(df)`` (what each customer
is worth next); see README "Use it from Python".
"""
__version__ = "0.1.0"
__all__ = ["__version__", "segment", "rfm", "predict", "load_segmentation", "Result", "CleaningSettings"]

# Loaded on first use: `python -m segmentation` imports this package before it reads the file,
# and must not wait for pandas, Ibis and scikit-learn there (the CLI loads them on a thread).
_LAZY = {"segment": "api", "rfm": "api", "predict": "api", "load_segmentation": "api", "Result": "pipeline",
         "CleaningSettings": "settings"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
