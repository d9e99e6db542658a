"""Demo data of the checkin_attendance module: eight of the members on the
roster of the Lujiazui office attendance (scripts/demodata/checkin.py) are
employees of the company, and the office feeds the company's attendance:
their two weeks of check-ins and check-outs become attendance lines in and
out (the Transfer to Attendance button), as the new ones will when they
are recorded."""


def load(pool, rng, company):
    Employee = pool.get('company.employee')
    Event = pool.get('checkin.event')

    office, = Event.search([('name', '=', "Lujiazui office attendance")])
    staff = sorted(office.roster, key=lambda m: m.id)[:8]
    Employee.create([{
                'party': member.party.id,
                'company': company.id,
                } for member in staff])
    Event.write([office], {
            'feed_attendance': True,
            'attendance_company': company.id,
            })
    Event.transfer_attendance([office])
