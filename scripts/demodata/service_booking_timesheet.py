"""Demo data of the service_booking_timesheet module: the works "Home
services" (cleaning and repairs, the default of the configuration) and
"Massage", and the timesheet lines of the done bookings of the staff who
are employees (scripts/demodata/service_booking.py), as the bookings done
from now on will make them: the real duration of those checked in at the
door, the booked duration of the others."""


def load(pool, rng, company):
    Booking = pool.get('booking.booking')
    Configuration = pool.get('member.configuration')
    Service = pool.get('booking.service')
    Work = pool.get('timesheet.work')

    home, massage = Work.create([
            {'name': "Home services", 'company': company.id},
            {'name': "Massage", 'company': company.id},
            ])
    configuration = Configuration(1)
    configuration.timesheet_work = home
    configuration.save()
    Service.write(Service.search([
                ('product.template.code', '=', 'MASSAGE'),
                ]), {
            'timesheet_work': massage.id,
            })
    Booking.feed_timesheet(Booking.search([('state', '=', 'done')]))
