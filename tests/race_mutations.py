"""The mutations of scripts/check-races: each removes one protection of the
points ledger, the check-in or the booking path, and names the
multi-process test(s) that must fail without it.

A mutation is (name, edits, tests): edits are (file, old, new), the file
relative to the top of the repository or, prefixed with 'trytond:', to the
installed trytond package; old must occur exactly once (else check-races
stops: the table must follow the code); tests are unittest ids."""

POINTS = 'tests.test_points_concurrency.PointsConcurrencyTestCase.'
EXPIRY = ('tests.test_points_expiry_concurrency.'
    'PointsExpiryConcurrencyTestCase.')
CHECKIN = 'tests.test_checkin_concurrency.CheckinConcurrencyTestCase.'
BOOKING = 'tests.test_booking_concurrency.BookingConcurrencyTestCase.'
API = 'tests.test_api_contention.ContentionTestCase.'
SPEND = 'tests.test_spend_concurrency.SpendConcurrencyTestCase.'
ASSIGN = ('tests.test_assignment_concurrency.'
    'AssignmentConcurrencyTestCase.')
POINTS_PY = 'modules/member/points.py'
ATTENDANCE = 'modules/checkin/attendance.py'
BOOKING_PY = 'modules/service_booking/booking.py'
REWARD_PY = 'modules/member/reward.py'
SMS = 'tests.test_sms_concurrency.SmsConcurrencyTestCase.'
SMS_PY = 'modules/miniprogram/sms.py'
WAITLIST = 'tests.test_waitlist_concurrency.WaitlistConcurrencyTestCase.'
RESCHEDULE_PY = 'modules/service_booking/reschedule.py'
WAITLIST_PY = 'modules/service_booking/waitlist.py'
RATING = 'tests.test_rating_concurrency.RatingConcurrencyTestCase.'
RATING_PY = 'modules/service_booking/rating.py'
DOOR = 'tests.test_door_concurrency.DoorConcurrencyTestCase.'
DOOR_PY = 'modules/service_booking/door.py'

MUTATIONS = [
    ("posting: no member lock", [
            (POINTS_PY,
                "        Member.hold_lock(\n"
                "            [p['member'] for p in posts "
                "if p['lock'] is None])\n",
                ""),
            ],
        [POINTS + 'test_concurrent_postings']),
    ("expiry: no member lock", [
            (POINTS_PY,
                "        Member.hold_lock(\n"
                "            [p['member'] for p in posts "
                "if p['lock'] is None])\n",
                ""),
            (POINTS_PY,
                "                Member.hold_lock(Member.browse(sub_ids))\n",
                "                pass\n"),
            ],
        [EXPIRY + 'test_expiry_while_spending']),
    ("isolation: READ COMMITTED", [
            ('trytond:backend/postgresql/database.py',
                "conn.isolation_level = IsolationLevel.REPEATABLE_READ",
                "conn.isolation_level = IsolationLevel.READ_COMMITTED"),
            ],
        [POINTS + 'test_postings_without_lock',
            CHECKIN + 'test_check_ins_first_of_two_events']),
    # The statement committed alone (check_in_first) runs under the
    # session's READ COMMITTED: it writes only when the member row it
    # locked is the version its snapshot saw (the race of two events
    # catches its absence about one run in two; the refused test forces
    # the change of the row while the statement waits)
    ("alone: no row version check", [
            (POINTS_PY,
                "        condition = (prepared.unchanged_row(table, member)\n"
                "            & Member._keeps_tier(",
                "        condition = (Member._keeps_tier("),
            ],
        [CHECKIN + 'test_check_ins_first_of_two_events',
            CHECKIN + 'test_check_in_first_alone_refused']),
    ("check_in: no member lock", [
            (ATTENDANCE,
                "        cls._check_access(member, credential)\n"
                "        Member.hold_lock([member])\n",
                "        cls._check_access(member, credential)\n"),
            ],
        [CHECKIN + 'test_concurrent_check_ins',
            CHECKIN + 'test_check_ins_without_points']),
    ("sync: no member lock", [
            (ATTENDANCE,
                "        member = Member(int(member))\n"
                "        Member.hold_lock([member])\n"
                "        batch = uuid.uuid4().hex\n",
                "        member = Member(int(member))\n"
                "        batch = uuid.uuid4().hex\n"),
            ],
        [CHECKIN + 'test_concurrent_syncs']),
    ("attendance: no constraint, look then insert", [
            (ATTENDANCE,
                "            ('counted_key_unique',\n"
                "                Exclude(t, (t.counted_key, Equal),"
                " where=t.counted),\n"
                "                'checkin.msg_attendance_unique'),\n",
                ""),
            (ATTENDANCE,
                "        if backend.name != 'postgresql':\n"
                "            existing = find()\n",
                "        if True:\n"
                "            existing = find()\n"),
            ],
        # Through the API's workers: a request that waited for the member
        # lock keeps the snapshot of before its wait (test_check_ins_without
        # _points restarts its transactions with a fresh one and the member
        # lock covers for the constraint there)
        [CHECKIN + 'test_check_ins_without_points',
            API + 'test_check_ins_without_points_of_one_member']),
    ("_lock_slot: no resource lock", [
            (BOOKING_PY,
                "        Resource.lock(resources)\n"
                "        Member.lock(members)\n",
                "        Member.lock(members)\n"),
            ],
        [BOOKING + 'test_race_for_a_slot']),
    ("_lock_slot: no member lock", [
            (BOOKING_PY,
                "        Resource.lock(resources)\n"
                "        Member.lock(members)\n",
                "        Resource.lock(resources)\n"),
            ],
        [BOOKING + 'test_race_of_one_member']),
    ("_lock_slot: no row rewrite", [
            (BOOKING_PY,
                "        for Model, records in [(Resource, resources), "
                "(Member, members)]:\n",
                "        for Model, records in []:\n"),
            ],
        [BOOKING + 'test_race_without_locks']),
    # The assignment reads the turns and loads of the resources under
    # their lock: without it (and the rewrite that also serializes) the
    # concurrent requests choose on the same stale counts
    ("_lock_slot: no resource lock, no row rewrite", [
            (BOOKING_PY,
                "        Resource.lock(resources)\n"
                "        Member.lock(members)\n",
                "        Member.lock(members)\n"),
            (BOOKING_PY,
                "        for Model, records in [(Resource, resources), "
                "(Member, members)]:\n",
                "        for Model, records in [(Member, members)]:\n"),
            ],
        [ASSIGN + 'test_round_robin_race',
            ASSIGN + 'test_least_loaded_race']),
    ("_book: no _lock_slot", [
            (BOOKING_PY,
                "            cls._lock_slot(resources, members)\n"
                "            for booking in cls.browse(",
                "            for booking in cls.browse("),
            ],
        [BOOKING + 'test_race_to_submit']),
    ("_lock_slot: no member, points promised twice", [
            (BOOKING_PY,
                "                members.add(booking.member.id)\n",
                "                pass\n"),
            (BOOKING_PY,
                "            [r.id for r in service.available_resources("
                "resource)],\n"
                "            [member.id])\n",
                "            [r.id for r in service.available_resources("
                "resource)],\n"
                "            [])\n"),
            ],
        [SPEND + 'test_race_to_spend_on_bookings']),
    ("reward stock: unconditional update", [
            (REWARD_PY,
                "                where=(table.id == reward.id) & "
                "(table.stock > 0)))\n",
                "                where=(table.id == reward.id)))\n"),
            (REWARD_PY,
                "            ('stock_positive', Check(t, (t.stock == Null) | "
                "(t.stock >= 0)),\n"
                "                'member.msg_reward_stock_positive'),\n",
                ""),
            ],
        [SPEND + 'test_race_for_the_last_rewards']),
    ("sms code: unconditional use under READ COMMITTED", [
            ('trytond:backend/postgresql/database.py',
                "conn.isolation_level = IsolationLevel.REPEATABLE_READ",
                "conn.isolation_level = IsolationLevel.READ_COMMITTED"),
            (SMS_PY,
                "                    where=(table.id == record.id)\n"
                "                    & (table.state == 'pending')))\n",
                "                    where=(table.id == record.id)))\n"),
            ],
        [SMS + 'test_code_used_once']),
    ("reschedule: no _lock_slot", [
            (RESCHEDULE_PY,
                "            cls._lock_slot(\n"
                "                ([booking.resource.id]",
                "            (lambda *args: None)(\n"
                "                ([booking.resource.id]"),
            ],
        [WAITLIST + 'test_race_to_reschedule']),
    ("waitlist: offered places not held", [
            (WAITLIST_PY,
                "        held = Waitlist.held_places(\n"
                "            list(result), start, end, member=member)\n",
                "        held = {}\n"),
            ],
        [WAITLIST + 'test_race_for_freed_places']),
    # The look for an existing rating before the insert is left: it alone
    # lets two concurrent requests rate a booking twice (the counts and
    # averages, SQL aggregates of the ratings, then count both)
    ("rating: no unique booking", [
            (RATING_PY,
                "            ('booking_unique', Unique(t, t.booking),\n"
                "                'service_booking.msg_rating_booking_unique'),"
                "\n",
                ""),
            ],
        [RATING + 'test_concurrent_ratings']),
    ("door: no booking lock", [
            (DOOR_PY,
                "            # Lock first: the transaction may restart with "
                "the lock taken,\n"
                "            # then a concurrent check-in has committed its "
                "state\n"
                "            cls.lock([booking])\n",
                ""),
            (DOOR_PY,
                "        with without_check_access():\n"
                "            cls.lock([booking])\n",
                "        with without_check_access():\n"),
            ],
        [DOOR + 'test_race_door']),
    ]
