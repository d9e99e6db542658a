# Sphinx configuration of the suite's documentation (doc/ and the modules'
# doc/ folders included from doc/modules/).
project = 'Check-in, Membership and Booking for Tryton'
copyright = '2026, the suite authors'
release = version = '8.0'
extensions = []
exclude_patterns = ['_build']
html_theme = 'alabaster'
html_static_path = []
