"""Segmenter's core: transactions in, RFM features and named K-Means segments out.

Pure functions over DataFrames/Arrow tables and parameters; no Streamlit, no global state.
"""
__version__ = "0.1.0"
__all__ = ["__version__"]
