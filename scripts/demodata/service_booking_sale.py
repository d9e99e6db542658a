"""Demo data of the service_booking_sale module: Tryton's minimal chart of
accounts with the fiscal year of today, 6% of VAT on the services (their
products salable in the accounting category "Services"), and the done
bookings of the last week (scripts/demodata/service_booking.py) billed: one
processed sale per booking whose invoice is posted.  The bookings done
before are left for the Create Sales wizard to bill."""
import datetime as dt
from decimal import Decimal


def load(pool, rng, company):
    Booking = pool.get('booking.booking')
    Category = pool.get('product.category')
    Date = pool.get('ir.date')
    Invoice = pool.get('account.invoice')
    Service = pool.get('booking.service')
    Template = pool.get('product.template')

    accounts = _create_chart(pool, company)
    _create_fiscalyear(pool, company, Date.today())
    vat = _create_tax(pool, company, accounts['tax'])
    category, = Category.create([{
                'name': "Services",
                'accounting': True,
                'account_revenue': accounts['revenue'].id,
                'customer_taxes': [('add', [vat.id])],
                }])
    services = Service.search([('company', '=', company.id)])
    for template in {s.product.template for s in services}:
        Template.write([template], {
                'salable': True,
                'sale_uom': (template.sale_uom or template.default_uom).id,
                'account_category': category.id,
                })

    today = Date.today()
    sales = Booking.bill(
        today - dt.timedelta(days=7), today, process='processing')
    invoices = [i for s in sales for i in s.invoices if i.state == 'draft']
    if invoices:
        Invoice.post(invoices)


def _create_chart(pool, company):
    "Create the minimal chart of accounts of Tryton for company"
    Account = pool.get('account.account')
    AccountTemplate = pool.get('account.account.template')
    CreateChart = pool.get('account.create_chart', type='wizard')
    ModelData = pool.get('ir.model.data')

    template = AccountTemplate(ModelData.get_id(
            'account', 'account_template_root_en'))
    session_id, _, _ = CreateChart.create()
    create_chart = CreateChart(session_id)
    create_chart.account.account_template = template
    create_chart.account.company = company
    create_chart.transition_create_account()
    properties = create_chart.properties
    defaults = create_chart.states['properties'].get_defaults(
        create_chart, 'properties', list(properties._fields.keys()))
    for name, value in defaults.items():
        if name in properties._fields:
            setattr(properties, name, value)
    for kind in ['receivable', 'payable']:
        name = 'account_%s' % kind
        if not getattr(properties, name, None):
            account, = Account.search([
                    ('type.%s' % kind, '=', True),
                    ('party_required', '=', True),
                    ('company', '=', company.id),
                    ], limit=1)
            setattr(properties, name, account)
    create_chart.transition_create_properties()
    revenue, = Account.search([
            ('type.revenue', '=', True),
            ('closed', '!=', True),
            ('company', '=', company.id),
            ], limit=1)
    tax, = Account.search([
            ('code', '=', '6.3.6'),
            ('company', '=', company.id),
            ], limit=1)
    return {'revenue': revenue, 'tax': tax}


def _create_fiscalyear(pool, company, today):
    "Create the fiscal year of today with its sequences and months"
    FiscalYear = pool.get('account.fiscalyear')
    Sequence = pool.get('ir.sequence.strict')
    SequenceType = pool.get('ir.sequence.type')

    sequences = {}
    for name in ["Account Move", "Invoice"]:
        sequence_type, = SequenceType.search([('name', '=', name)], limit=1)
        sequences[name], = Sequence.create([{
                    'name': '%s %s' % (name, today.year),
                    'sequence_type': sequence_type.id,
                    'company': company.id,
                    }])
    invoice = sequences["Invoice"].id
    fiscalyear, = FiscalYear.create([{
                'name': str(today.year),
                'start_date': today.replace(month=1, day=1),
                'end_date': today.replace(month=12, day=31),
                'company': company.id,
                'move_sequence': sequences["Account Move"].id,
                'invoice_sequences': [('create', [{
                                'company': company.id,
                                'out_invoice_sequence': invoice,
                                'in_invoice_sequence': invoice,
                                'out_credit_note_sequence': invoice,
                                'in_credit_note_sequence': invoice,
                                }])],
                }])
    FiscalYear.create_period([fiscalyear])
    return fiscalyear


def _create_tax(pool, company, account):
    Tax = pool.get('account.tax')
    tax, = Tax.create([{
                'name': "VAT 6%",
                'description': "VAT 6%",
                'type': 'percentage',
                'rate': Decimal('0.06'),
                'company': company.id,
                'invoice_account': account.id,
                'credit_note_account': account.id,
                }])
    return tax
