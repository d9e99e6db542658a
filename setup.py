#!/usr/bin/env python3
# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""Install every folder under modules/ as trytond.modules.<name>.

Tryton finds modules through the ``trytond.modules`` entry point group, and
imports them as ``trytond.modules.<name>``.  Mapping the package names onto
the folders with ``package_dir`` keeps ``pip install -e .`` working (the
hatchling layout of Tryton's own modules cannot be installed editable).
"""
import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES_DIR = os.path.join(HERE, 'modules')

SERIES = '>=8.0,<8.1'


def module_names():
    return sorted(
        name for name in os.listdir(MODULES_DIR)
        if os.path.isfile(os.path.join(MODULES_DIR, name, 'tryton.cfg')))


def packages_of(name):
    "The package and its sub-packages (tests, ...) of a module folder"
    root = os.path.join(MODULES_DIR, name)
    packages = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames
            if not d.startswith(('.', '__pycache__'))]
        if '__init__.py' in filenames:
            rel = os.path.relpath(dirpath, root)
            package = 'trytond.modules.' + name
            if rel != '.':
                package += '.' + rel.replace(os.sep, '.')
            packages.append(package)
    return packages


MODULES = module_names()
packages, package_dir, package_data = [], {}, {}
for name in MODULES:
    package = 'trytond.modules.' + name
    packages.extend(packages_of(name))
    package_dir[package] = os.path.join('modules', name)
    package_data[package] = [
        'tryton.cfg', '*.xml', 'view/*.xml', 'locale/*.po', 'tests/*.rst',
        'tests/*.json', 'icons/*.svg', 'templates/*', 'static/*',
        'doc/*.rst', 'CHANGELOG', '*.txt']

setup(
    name='tryton-checkin-member-suite',
    version='8.0.0',
    description='Check-in, membership and service booking for Tryton 8.0, '
    'with a mini-program JSON API',
    license='GPL-3.0-or-later',
    # As trytond 8.0
    python_requires='>=3.10',
    packages=packages,
    package_dir=package_dir,
    package_data=package_data,
    # What trytond itself requires (werkzeug, pwdlib, python-sql, ...) is
    # not repeated here
    install_requires=[
        'trytond' + SERIES,
        'trytond_party' + SERIES,
        'trytond_company' + SERIES,
        'trytond_currency' + SERIES,
        'trytond_product' + SERIES,
        'phonenumbers>=8.13',
        # PNG codes need Pillow
        'qrcode[pil]>=7.4',
        'PyJWT>=2.8,<3',
        # Compiles the API's JSON schemas (modules/miniprogram/validation.py)
        'fastjsonschema>=2.18,<3',
        # The Excel export writes through the write-only worksheet's writer
        # (modules/checkin/report.py SheetRows)
        'openpyxl>=3.1,<3.2',
        ],
    extras_require={
        # The demo runs on SQLite; PostgreSQL is for production and for
        # the concurrency tests
        'postgresql': ['psycopg[binary,pool]>=3.2,<4'],
        'test': [
            'proteus' + SERIES, 'hypothesis', 'aiosmtpd', 'sphinx',
            'schemathesis>=4,<5', 'flake8>=7', 'isort>=5',
            # The event loop of scripts/bench_intake's generator
            'uvloop>=0.18'],
        # gunicorn, and the metrics of its workers (METRICS_BIND)
        'server': ['gunicorn', 'prometheus_client>=0.20,<1'],
        # Tryton's modules that the bridges (checkin_attendance,
        # service_booking_timesheet, service_booking_sale) connect to; the
        # core suite installs and runs without them
        'erp': [
            'trytond_account_invoice' + SERIES,
            'trytond_attendance' + SERIES,
            'trytond_sale' + SERIES,
            'trytond_timesheet' + SERIES,
            ],
        },
    entry_points={
        'trytond.modules': [
            '%s = trytond.modules.%s' % (n, n) for n in MODULES],
        },
    zip_safe=False,
    )
