# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Reminder experiments: the deterministic assignment of the members, the
Wilson interval, the reminders sent by variant, the outcome of each variant
measured on a history, stopping and making the winner the default, and the
bad input."""
import datetime as dt
import unittest
from collections import Counter

from trytond.model.exceptions import (
    AccessError, DomainValidationError, RequiredValidationError)
from trytond.modules.checkin.exceptions import (
    ExperimentError, ExperimentValidationError)
from trytond.modules.checkin.experiment import bucket, choose, wilson_interval
from trytond.modules.member.tests.test_module import create_member
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction

from .test_module import (
    START, as_user, at, check_in, create_event, create_user)

# 09:00 in Shanghai is the daily start of the events (START's time)
DAY = dt.timedelta(days=1)


class Variant:
    "A variant as choose() reads it"

    def __init__(self, id, weight):
        self.id, self.weight = id, weight


class ExperimentFunctionsTestCase(unittest.TestCase):
    "The assignment and the Wilson interval"

    def test_wilson_published(self):
        "The Wilson score interval of Newcombe (1998), table I, method 3"
        for (successes, n), (low, high) in [
                ((81, 263), (0.2553, 0.3662)),
                ((15, 148), (0.0624, 0.1605)),
                ((0, 20), (0.0, 0.1611)),
                ((1, 29), (0.0061, 0.1718)),
                ((29, 29), (0.8830, 1.0)),
                ]:
            with self.subTest(successes=successes, n=n):
                result = wilson_interval(successes, n)
                self.assertAlmostEqual(result[0], low, places=4)
                self.assertAlmostEqual(result[1], high, places=4)

    def test_wilson_edges(self):
        "No trial has no interval; successes out of range are refused"
        self.assertEqual(wilson_interval(0, 0), (None, None))
        low, high = wilson_interval(5, 10)
        self.assertAlmostEqual(low + high, 1.0)
        for successes, n in [(-1, 10), (11, 10)]:
            with self.subTest(successes=successes):
                with self.assertRaises(ValueError):
                    wilson_interval(successes, n)

    def test_bucket_stable(self):
        "The position of a member is the same in every process (SHA-256)"
        self.assertEqual(bucket(1, 1), bucket(1, 1))
        self.assertNotEqual(bucket(1, 1), bucket(2, 1))
        # Fixed by SHA-256 of "1:1", not by the salt of Python's hash()
        self.assertAlmostEqual(bucket(1, 1), 0.8387080, places=6)
        self.assertTrue(all(0 <= bucket(7, m) < 1 for m in range(100)))

    def test_choose_deterministic(self):
        "The same member gets the same variant whatever the order given"
        variants = [Variant(3, 1), Variant(1, 2), Variant(2, 1)]
        for member in range(50):
            with self.subTest(member=member):
                self.assertIs(
                    choose(9, member, variants),
                    choose(9, member, list(reversed(variants))))

    def test_choose_distribution(self):
        "Over 1,000 members the shares follow the weights"
        variants = [Variant(1, 1), Variant(2, 3)]
        counts = Counter(
            choose(5, m, variants).id for m in range(1, 1001))
        # Binomial: 250 expected, standard deviation 13.7
        self.assertLess(abs(counts[1] - 250), 45)
        self.assertLess(abs(counts[2] - 750), 45)
        self.assertEqual(counts[1] + counts[2], 1000)

    def test_choose_nothing(self):
        "No variant, or no weight, chooses nothing"
        self.assertIsNone(choose(1, 1, []))
        self.assertIsNone(choose(1, 1, [Variant(1, 0)]))


class ExperimentTestCase(unittest.TestCase):
    "Reminder experiments on the database"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('checkin')

    def setup_experiment(self, members=10, **values):
        pool = Pool()
        Experiment = pool.get('checkin.reminder.experiment')
        Template = pool.get('outbox.template')
        members = [create_member("M%d" % i, email='m%d@example.com' % i)
            for i in range(members)]
        event = create_event(
            name="Daily", kind='daily', start=START,
            end=START + dt.timedelta(days=30),
            roster=[('add', [m.id for m in members])])
        defaults = {
            'name': "Streak wording",
            'events': [('add', [event.id])],
            'variants': [('create', [{
                            'name': "Control",
                            'control': True,
                            'delay': 30,
                            'weight': 1,
                            }, {
                            'name': "Streak",
                            'delay': 60,
                            'template': Template.get(
                                'checkin_missed_streak').id,
                            'weight': 1,
                            }])],
            }
        defaults.update(values)
        experiment, = Experiment.create([defaults])
        return experiment, event, members

    @with_transaction()
    def test_reminders_by_variant(self):
        "Each member is reminded by the delay and template of its variant"
        pool = Pool()
        Event = pool.get('checkin.event')
        Experiment = pool.get('checkin.reminder.experiment')
        Assignment = pool.get('checkin.reminder.assignment')
        experiment, event, members = self.setup_experiment()
        control, streak = experiment.variants
        check_in(members[0], event, START)
        with at(START - DAY):
            Experiment.run([experiment])
        variants = {m: experiment.variant_of(m.id) for m in members}
        self.assertEqual(set(variants.values()), {control, streak})

        # The default delay (15) is not used for the event
        with at(START + dt.timedelta(minutes=15)):
            self.assertEqual(Event.send_missed_reminders(), [])
        with at(START + dt.timedelta(minutes=30)):
            self.assertEqual(Event.send_missed_reminders(), [])
        rows = Assignment.search([])
        self.assertEqual(
            {a.member for a in rows},
            {m for m in members[1:] if variants[m] == control})
        self.assertEqual({a.message for a in rows}, {None})
        self.assertEqual({a.date for a in rows}, {dt.date(2026, 3, 2)})

        with at(START + dt.timedelta(minutes=60)):
            messages = Event.send_missed_reminders()
        reminded = [m for m in members[1:] if variants[m] == streak]
        self.assertEqual(
            sorted(m.party.id for m in messages),
            sorted(m.party.id for m in reminded))
        self.assertEqual(
            {m.template.code for m in messages}, {'checkin_missed_streak'})
        rows = Assignment.search([('variant', '=', streak.id)])
        for row in rows:
            self.assertEqual(row.message.party, row.member.party)
            self.assertIn(row.message, messages)
        self.assertEqual(len(rows), len(reminded))

        # Once per member and day whatever the number of runs
        with at(START + dt.timedelta(minutes=90)):
            self.assertEqual(Event.send_missed_reminders(), [])
        self.assertEqual(len(Assignment.search([])), len(members) - 1)

        # The next day the same members get the same variants
        with at(START + DAY + dt.timedelta(minutes=60)):
            Event.send_missed_reminders()
        for assignment in Assignment.search([]):
            self.assertEqual(assignment.variant, variants[assignment.member])
        self.assertEqual(len(Assignment.search([])), 2 * len(members) - 1)

    @with_transaction()
    def test_unreachable_assigned(self):
        "A member no channel reaches is assigned all the same, no message"
        pool = Pool()
        Event = pool.get('checkin.event')
        Experiment = pool.get('checkin.reminder.experiment')
        Assignment = pool.get('checkin.reminder.assignment')
        experiment, event, _ = self.setup_experiment(members=0)
        control, streak = experiment.variants
        silent = [create_member("Silent %d" % i) for i in range(8)]
        Event.write([event], {'roster': [('add', [m.id for m in silent])]})
        with at(START):
            Experiment.run([experiment])
        with at(START + dt.timedelta(minutes=60)):
            self.assertEqual(Event.send_missed_reminders(), [])
        rows = Assignment.search([])
        self.assertEqual({a.member for a in rows}, set(silent))
        self.assertEqual({a.message for a in rows}, {None})
        self.assertLessEqual({a.variant for a in rows}, {control, streak})

    @with_transaction()
    def test_events_of_kind(self):
        "An experiment of a kind applies to every event of that kind"
        pool = Pool()
        Experiment = pool.get('checkin.reminder.experiment')
        experiment, event, _ = self.setup_experiment(
            members=1, events=[], kind='daily')
        other = create_event(name="Points", kind='points',
            end=START + dt.timedelta(days=3))
        with at(START):
            Experiment.run([experiment])
            self.assertEqual(
                Experiment.running([event, other], START),
                {event.id: experiment})

    @with_transaction()
    def test_outcomes(self):
        "The next-day check-ins and the streaks continued of a history"
        pool = Pool()
        Experiment = pool.get('checkin.reminder.experiment')
        Assignment = pool.get('checkin.reminder.assignment')
        Variant = pool.get('checkin.reminder.experiment.variant')
        experiment, event, (ann, bob, cat, dan) = self.setup_experiment(
            members=4)
        control, streak = experiment.variants
        with at(START):
            Experiment.run([experiment])
        day = event.day_key(START)

        def assign(variant, member, day_key):
            Assignment.create([{
                        'experiment': experiment.id,
                        'variant': variant.id,
                        'event': event.id,
                        'member': member.id,
                        'day_key': day_key,
                        'date': dt.date.fromordinal(day_key),
                        'sent_at': START,
                        }])
        # Day 1 everybody checks in; day 2 all are reminded
        for member in [ann, bob, cat, dan]:
            check_in(member, event, START)
            assign(streak if member in [ann, bob] else control, member,
                day + 1)
        # Ann checks in after the reminder on day 2 and on day 3; Cat on
        # day 3 only
        check_in(ann, event, START + DAY + dt.timedelta(hours=2))
        check_in(ann, event, START + 2 * DAY)
        check_in(cat, event, START + 2 * DAY)
        # Reminded on day 3, not measured until day 4 is over
        assign(streak, bob, day + 2)

        def results():
            return [(v.reminded, v.next_day_n, v.next_day, v.streak_n,
                    v.streak)
                for v in Variant.browse([streak, control])]
        with at(START + 2 * DAY):
            # Day 3 is not over: no next-day trial yet; day 2 is over
            self.assertEqual(results(), [(3, 0, 0, 2, 1), (2, 0, 0, 2, 0)])
        with at(START + 3 * DAY):
            self.assertEqual(results(), [(3, 2, 1, 2, 1), (2, 2, 1, 2, 0)])
            streak_variant = Variant(streak.id)
            self.assertEqual(streak_variant.next_day_rate, 0.5)
            low, high = wilson_interval(1, 2)
            self.assertAlmostEqual(streak_variant.next_day_low, low)
            self.assertAlmostEqual(streak_variant.next_day_high, high)
            self.assertEqual(Variant(control.id).streak_rate, 0)
        with at(START + 5 * DAY):
            # Bob's day 4 is over: a next-day trial without check-in, no
            # streak at stake (he did not check in on day 2)
            self.assertEqual(results()[0], (3, 3, 1, 2, 1))

    @with_transaction()
    def test_stop_winner(self):
        "A stopped experiment's winner becomes the default reminder"
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        Event = pool.get('checkin.event')
        Experiment = pool.get('checkin.reminder.experiment')
        experiment, event, members = self.setup_experiment(members=3)
        control, streak = experiment.variants
        with at(START):
            Experiment.run([experiment])
        with self.assertRaises(ExperimentError):
            Experiment.make_default([experiment])
        with at(START + dt.timedelta(hours=1)):
            Experiment.stop([experiment])
        self.assertEqual(experiment.state, 'stopped')
        self.assertEqual(experiment.stop_date, START + dt.timedelta(hours=1))
        with self.assertRaises(ExperimentError):
            Experiment.make_default([experiment])
        experiment.winner = streak
        experiment.save()
        Experiment.make_default([experiment])
        config = Configuration(1)
        self.assertEqual(config.missed_reminder, 60)
        self.assertEqual(
            config.missed_reminder_template.code, 'checkin_missed_streak')

        # Stopped: the members get the default, now the winner's
        with at(START + DAY + dt.timedelta(minutes=60)):
            messages = Event.send_missed_reminders()
        self.assertEqual(len(messages), 3)
        self.assertEqual(
            {m.template.code for m in messages}, {'checkin_missed_streak'})

        # A control winner sends no reminder any more
        experiment.winner = control
        experiment.save()
        Experiment.make_default([experiment])
        self.assertIsNone(Configuration(1).missed_reminder)

    @with_transaction()
    def test_bad_input(self):
        "Bad weights, delays, no variant, no template are refused clearly"
        pool = Pool()
        Experiment = pool.get('checkin.reminder.experiment')
        Variant = pool.get('checkin.reminder.experiment.variant')
        experiment, event, _ = self.setup_experiment(members=1)
        for values in [{'weight': 0}, {'weight': -1}, {'delay': -5}]:
            with self.subTest(values=values):
                with self.assertRaises(DomainValidationError):
                    Variant.create([{
                                'experiment': experiment.id,
                                'name': "Bad", 'control': True,
                                **values}])
        # A reminder without template
        with self.assertRaises(RequiredValidationError):
            Variant.create([{
                        'experiment': experiment.id, 'name': "No template",
                        'delay': 10, 'weight': 1}])

        empty, = Experiment.create([{
                    'name': "Empty", 'events': [('add', [event.id])]}])
        with self.assertRaises(ExperimentError) as cm:
            Experiment.run([empty])
        self.assertIn("no variant", str(cm.exception.message))
        self.assertEqual(empty.state, 'draft')

        nowhere, = Experiment.create([{
                    'name': "Nowhere",
                    'variants': [('create', [{
                                    'name': "C", 'control': True}])]}])
        with self.assertRaises(ExperimentError) as cm:
            Experiment.run([nowhere])
        self.assertIn("no event", str(cm.exception.message))

    @with_transaction()
    def test_one_running_per_event(self):
        "Two running experiments may not share an event"
        pool = Pool()
        Experiment = pool.get('checkin.reminder.experiment')
        experiment, event, _ = self.setup_experiment(members=1)
        other, = Experiment.copy([experiment], {'name': "Other"})
        by_kind, = Experiment.copy([experiment], {
                'name': "By kind", 'events': None, 'kind': 'daily'})
        Experiment.run([experiment])
        for candidate in [other, by_kind]:
            with self.subTest(experiment=candidate.name):
                with self.assertRaises(ExperimentValidationError) as cm:
                    Experiment.run([candidate])
                self.assertIn("only one experiment", cm.exception.message)
                self.assertIn("Daily", cm.exception.message)
        Experiment.stop([experiment])
        Experiment.run([other])
        self.assertEqual(other.state, 'running')

    @with_transaction()
    def test_access(self):
        "Organizers read the experiments, only the administration writes"
        pool = Pool()
        Experiment = pool.get('checkin.reminder.experiment')
        experiment, _, _ = self.setup_experiment(members=1)
        organizer = create_user("Organizer", 'checkin.group_checkin')
        with as_user(organizer):
            self.assertEqual(
                Experiment.search([]), [Experiment(experiment.id)])
            self.assertEqual(
                [v.reminded for v in Experiment(experiment.id).variants],
                [0, 0])
            with self.assertRaises(AccessError):
                Experiment.write([Experiment(experiment.id)], {'name': "X"})
