"""Streamlit-side helpers shared by app.py and the pages: session state, engine, language."""
