"""Built-in synthetic tracking benchmark (GOT-10k layout), see :mod:`ltr.dataset.synthetic.generator`.

Kept empty on purpose: the registry's ``discover()`` imports every module under ``ltr.dataset``,
so this package must stay cheap to import.
"""
