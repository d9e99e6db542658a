# This file is part of the service_booking_sale module.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
from trytond.model import fields
from trytond.modules.product import price_digits
from trytond.pool import PoolMeta

SALE_GROUPINGS = [
    ('booking', "One Sale per Booking"),
    ('member', "One Sale per Member and Period"),
    ]
SALE_PROCESSES = [
    ('draft', "Draft"),
    ('quotation', "Quotation"),
    ('confirmed', "Confirmed"),
    ('processing', "Processed"),
    ]


class Configuration(metaclass=PoolMeta):
    __name__ = 'member.configuration'

    sale_grouping = fields.Selection(
        SALE_GROUPINGS, "Sale Grouping", required=True,
        help="One sale per booking, or one sale per member for all the "
        "bookings of a run of Create Sales (its date range; the scheduler "
        "bills the bookings of the day before).")
    sale_process = fields.Selection(
        SALE_PROCESSES, "Sale State", required=True,
        help="How far the sales created from bookings are taken: a draft, "
        "a quotation, confirmed, or processed (the invoice of the sale's "
        "invoice method is created).")
    sale_no_show_product = fields.Many2One(
        'product.product', "No-Show Fee Product", ondelete='RESTRICT',
        domain=[
            ('type', '=', 'service'),
            ('salable', '=', True),
            ],
        help="The product of the fee billed for a no-show booking.\n"
        "Leave empty to bill no fee for no-shows.")
    sale_no_show_fee = fields.Numeric(
        "No-Show Fee", digits=price_digits,
        domain=['OR',
            ('sale_no_show_fee', '=', None),
            ('sale_no_show_fee', '>=', 0),
            ],
        help="The amount of the no-show fee.\n"
        "Leave empty for the list price of the product.")

    @classmethod
    def default_sale_grouping(cls):
        return 'booking'

    @classmethod
    def default_sale_process(cls):
        return 'processing'
