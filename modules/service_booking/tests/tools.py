# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"Helpers of the proteus scenarios"
import datetime as dt
from decimal import Decimal

from proteus import Model

from trytond.modules.company.tests.tools import create_company, get_company
from trytond.modules.suite import clock

__all__ = ['freeze_clock', 'create_company_shanghai', 'create_tiers',
    'create_resource', 'create_service']


class FrozenClock:
    "The clock of the suite frozen at `now` (naive UTC) until stop()"

    def __init__(self, now):
        self.now = now

    @property
    def now(self):
        return clock.now()

    @now.setter
    def now(self, value):
        clock.freeze(value)

    def stop(self):
        clock.unfreeze()


def freeze_clock(now):
    """Freeze the booking clock at now (a naive UTC datetime) and return it:
    set its `now` to move it, call stop() to let it run again"""
    return FrozenClock(now)


def create_company_shanghai(config=None):
    "Create the company in Shanghai that works in yuan and return it"
    create_company(currency='CNY', config=config)
    company = get_company(config=config)
    company.timezone = 'Asia/Shanghai'
    company.save()
    return company


def create_tiers(config=None):
    "Create the tiers basic, silver and gold and return them"
    Tier = Model.get('member.tier', config=config)
    tiers = []
    for code, name, threshold, discount, multiplier, days, hours in [
            ('basic', "Basic", 0, 0, 1, 0, 24),
            ('silver', "Silver", 100, 5, '1.5', 3, 12),
            ('gold', "Gold", 1000, 15, 2, 7, 2),
            ]:
        tier = Tier(
            code=code, name=name, threshold=threshold,
            discount=Decimal(discount), points_multiplier=Decimal(multiplier),
            priority_days=days, free_cancel_hours=hours)
        tier.save()
        tiers.append(tier)
    return tiers


def create_resource(name, kind='room', start=dt.time(9), end=dt.time(18),
        weekdays='0123456', config=None, **values):
    "Create a resource open from start to end on the weekdays"
    Resource = Model.get('booking.resource', config=config)
    resource = Resource(name=name, kind=kind, **values)
    for weekday in weekdays:
        resource.hours.new(weekday=weekday, start_time=start, end_time=end)
    resource.save()
    return resource


def create_service(name, price, resources, config=None, **values):
    "Create a service product and its booking service"
    Service = Model.get('booking.service', config=config)
    Template = Model.get('product.template', config=config)
    Uom = Model.get('product.uom', config=config)
    unit, = Uom.find([('name', '=', "Unit")])
    template = Template(
        name=name, type='service', default_uom=unit, list_price=price)
    template.save()
    product, = template.products
    defaults = {
        'duration': dt.timedelta(hours=2),
        'buffer': dt.timedelta(minutes=30),
        'capacity': 1,
        'lead_time': dt.timedelta(hours=2),
        'horizon': 7,
        'cancel_hours': 24,
        }
    defaults.update(values)
    service = Service(product=product, **defaults)
    Resource = Model.get('booking.resource', config=config)
    for resource in resources:
        service.booking_resources.append(Resource(resource.id))
    service.save()
    return service
