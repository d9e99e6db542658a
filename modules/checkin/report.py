# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import json
import math
import tempfile
import types

from sql import Cast, Literal, Null
from sql.aggregate import Count, Max, Min, Sum
from sql.conditionals import Case

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.suite import clock
from trytond.modules.suite.tools import isoformat
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.report import Report
from trytond.transaction import Transaction
from trytond.wizard import Button, StateReport, StateView, Wizard

from .event import KINDS

# Rows fetched at once by the exports: the memory does not grow with the
# size of the event
FETCH_ROWS = 2000


class ReportContext(ModelView):
    "Check-in Report Context"
    __name__ = 'checkin.report.context'
    __string__ = "Check-in Report Context"

    from_date = fields.Date(
        "From Date",
        domain=[If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')), ())])
    to_date = fields.Date(
        "To Date",
        domain=[If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')), ())])
    event = fields.Many2One('checkin.event', "Event")
    kind = fields.Selection([(None, "")] + KINDS, "Kind")

    @classmethod
    def default_from_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if 'from_date' in context:
            return context['from_date']
        return Date.today() - dt.timedelta(days=30)

    @classmethod
    def default_to_date(cls):
        return Transaction().context.get('to_date')

    @classmethod
    def default_event(cls):
        return Transaction().context.get('event')

    @classmethod
    def default_kind(cls):
        return Transaction().context.get('kind')


def _context_where(attendance, event):
    "Return the condition of the report context on attendance and event"
    context = Transaction().context
    where = Literal(True)
    if context.get('from_date'):
        where &= attendance.local_date >= context['from_date']
    if context.get('to_date'):
        where &= attendance.local_date <= context['to_date']
    if context.get('event'):
        where &= attendance.event == context['event']
    if context.get('kind'):
        where &= event.kind == context['kind']
    return where


def _count(condition):
    return Sum(Case((condition, 1), else_=0))


class SheetRows:
    """Write the rows of an openpyxl write-only worksheet.

    The rows of plain values (text, numbers, booleans, dates and naive
    datetimes) are formatted as XML text, several times faster than the
    cell objects of openpyxl and with the same XML; any other row (cells,
    formulas, ...) is written by openpyxl.  The rows wait in a temporary
    file (the memory stays bounded) and `close` puts them in the sheet,
    before the workbook is saved.

    It uses the write-only worksheet's writer (private to openpyxl): the
    version is pinned in setup.py and test_excel_rows_as_openpyxl compares
    its XML with openpyxl's own.  Openpyxl's public write-only append and
    XlsxWriter's constant_memory mode take 17 to 22 s for 100,000 rows of
    the detail sheet where this takes 4 s."""

    BATCH = 1000
    # The XML of this many distinct texts is kept (the names of the events,
    # the labels, ... repeat on each row): bounded, the memory does not grow
    # with the rows
    TEXTS = 4096

    def __init__(self, sheet):
        from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
        from openpyxl.utils import get_column_letter
        from openpyxl.utils.datetime import SECS_PER_DAY, to_excel
        self.sheet = sheet
        self.file = tempfile.TemporaryFile()
        self.buffer = []
        self.row_idx = 0
        self.letters = []
        self.styles = {}
        # The few dates of a report are converted once
        self.dates = {}
        self.days = {}
        self.texts = {}
        self.epoch = sheet.parent.epoch
        self.error_codes = ERROR_CODES
        self.illegal = ILLEGAL_CHARACTERS_RE.search
        self.get_column_letter = get_column_letter
        self.to_excel = to_excel
        self.secs_per_day = SECS_PER_DAY
        sheet._get_writer()

    def _style(self, type_):
        # Registered at first use like the styles of the cells of openpyxl
        from openpyxl.cell import WriteOnlyCell
        if type_ not in self.styles:
            self.styles[type_] = str(WriteOnlyCell(
                    self.sheet, value=type_(2000, 1, 1)).style_id)
        return self.styles[type_]

    def append(self, values):
        "Append the row of values (a list or tuple, as sheet.append)"
        self.row_idx += 1
        if isinstance(values, types.GeneratorType):
            values = tuple(values)
        xml = None
        if (isinstance(values, (list, tuple))
                and self.row_idx not in self.sheet.row_dimensions):
            xml = self._row_xml(values, str(self.row_idx))
        if xml is None:
            xml = self._openpyxl_row_xml(values, self.row_idx)
        self.buffer.append(xml)
        if len(self.buffer) >= self.BATCH:
            self._flush()

    def _flush(self):
        if self.buffer:
            self.file.write(
                ''.join(self.buffer).encode('ascii', 'xmlcharrefreplace'))
            self.buffer = []

    def _openpyxl_row_xml(self, values, row_idx):
        "Return the XML of the row written by openpyxl"
        import io

        from openpyxl.xml.functions import xmlfile
        if not isinstance(values, (list, tuple, range)):
            self.sheet._invalid_row(values)
        out = io.BytesIO()
        with xmlfile(out) as xf:
            self.sheet._writer.write_row(
                xf, self.sheet._values_to_row(values, row_idx), row_idx)
        return out.getvalue().decode('utf-8')

    def _datetime_serial(self, value):
        """Return the serial of the naive datetime value as to_excel of
        openpyxl: the days of its date (converted once) plus the same
        fraction of the time"""
        days = self.days.get(value.date())
        if days is None:
            days = self.days[value.date()] = self.to_excel(
                value.date(), self.epoch)
        return days + (
            (value.hour * 3600)
            + (value.minute * 60)
            + value.second
            + value.microsecond / 10**6
            ) / self.secs_per_day

    def _text_xml(self, value):
        """Return the XML of the cell of the text value after its reference
        or None when openpyxl must write it"""
        if (len(value) > 32767 or self.illegal(value)
                or (len(value) > 1 and value[0] == '=')
                or value in self.error_codes):
            return None
        if not value:
            return ' t="inlineStr"></c>'
        text = (value.replace('&', '&amp;').replace('<', '&lt;')
            .replace('>', '&gt;').replace('\r', '&#13;'))
        return ' t="inlineStr"><is><t%s>%s</t></is></c>' % (
            ' xml:space="preserve"' if value != value.strip() else '',
            text)

    def _row_xml(self, values, r):
        "Return the XML of the row or None when openpyxl must write it"
        letters = self.letters
        texts = self.texts
        styles = self.styles
        dates = self.dates
        if len(values) > len(letters):
            letters.extend(self.get_column_letter(i)
                for i in range(len(letters) + 1, len(values) + 1))
        parts = ['<row r="%s">' % r]
        append = parts.append
        for col, value in enumerate(values):
            if value is None:
                continue
            type_ = type(value)
            if type_ is str:
                xml = texts.get(value)
                if xml is None:
                    xml = self._text_xml(value)
                    if xml is None:
                        return
                    if len(texts) < self.TEXTS:
                        texts[value] = xml
                append('<c r="' + letters[col] + r + '"' + xml)
            elif type_ is bool:
                append('<c r="%s%s" t="b"><v>%d</v></c>' % (
                        letters[col], r, value))
            elif type_ is int or (type_ is float and math.isfinite(value)):
                append('<c r="%s%s" t="n"><v>%.16g</v></c>' % (
                        letters[col], r, value))
            elif type_ is dt.datetime and value.tzinfo is None:
                append('<c r="%s%s" s="%s" t="n"><v>%.16g</v></c>' % (
                        letters[col], r,
                        styles.get(dt.datetime) or self._style(dt.datetime),
                        self._datetime_serial(value)))
            elif type_ is dt.date:
                serial = dates.get(value)
                if serial is None:
                    serial = dates[value] = '%.16g' % self.to_excel(
                        value, self.epoch)
                append('<c r="%s%s" s="%s" t="n"><v>%s</v></c>' % (
                        letters[col], r,
                        styles.get(dt.date) or self._style(dt.date), serial))
            else:
                return
        append('</row>')
        return ''.join(parts)

    def close(self):
        "Close the sheet with the rows (before saving the workbook)"
        import shutil
        self._flush()
        sheet = self.sheet
        sheet.close()
        writer = sheet._writer
        with open(writer.out, 'rb') as fp:
            # Without rows the XML of the sheet is small
            skeleton = fp.read()
        for empty in [b'<sheetData></sheetData>', b'<sheetData/>']:
            head, found, tail = skeleton.partition(empty)
            if found:
                break
        else:
            raise ValueError("no sheetData in %s" % writer.out)
        with open(writer.out, 'wb') as fp:
            fp.write(head + b'<sheetData>')
            self.file.seek(0)
            shutil.copyfileobj(self.file, fp)
            fp.write(b'</sheetData>' + tail)
        self.file.close()


class ReportDay(ModelSQL, ModelView):
    "Check-ins by Day"
    __name__ = 'checkin.report.day'
    __string__ = "Check-ins by Day"

    date = fields.Date("Date")
    event = fields.Many2One('checkin.event', "Event", required=True)
    kind = fields.Selection(KINDS, "Kind")
    expected = fields.Integer("Expected")
    checked_in = fields.Integer("Checked In")
    rate = fields.Function(fields.Float("Rate"), 'get_rate')
    late = fields.Integer("Late")
    flagged = fields.Integer("To Review")
    rejected = fields.Integer("Rejected")
    checked_out = fields.Integer(
        "Checked Out", help="The counted check-ins with a check-out.")
    duration = fields.Integer(
        "Duration", help="In minutes, the sum of the durations.")
    average_duration = fields.Function(fields.Integer(
            "Average Duration",
            help="In minutes, the duration per check-out."),
        'get_average_duration')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('event')
        cls._order = [('date', 'DESC'), ('event', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        Roster = pool.get('checkin.event-member.member')
        attendance = Attendance.__table__()
        event = Event.__table__()
        roster = Roster.__table__()
        expected = roster.select(
            roster.event, Count(roster.id).as_('expected'),
            group_by=[roster.event])
        counted = attendance.counted == Literal(True)
        return (attendance
            .join(event, condition=attendance.event == event.id)
            .join(expected, 'LEFT', condition=expected.event == event.id)
            .select(
                Min(attendance.id).as_('id'),
                attendance.local_date.as_('date'),
                attendance.event.as_('event'),
                event.kind.as_('kind'),
                Max(expected.expected).as_('expected'),
                _count(counted).as_('checked_in'),
                _count(counted & (attendance.late == Literal(True))
                    ).as_('late'),
                _count(attendance.status == 'flagged').as_('flagged'),
                _count(attendance.status == 'rejected').as_('rejected'),
                _count(counted & (attendance.checkout_time != Null)
                    ).as_('checked_out'),
                Sum(Case((counted, attendance.duration), else_=Null)
                    ).as_('duration'),
                where=_context_where(attendance, event),
                group_by=[
                    attendance.local_date, attendance.event, event.kind]))

    def get_rate(self, name):
        if self.expected:
            return round((self.checked_in or 0) / self.expected, 4)

    def get_average_duration(self, name):
        if self.checked_out:
            return round((self.duration or 0) / self.checked_out)


class ReportMember(ModelSQL, ModelView):
    "Check-ins by Member"
    __name__ = 'checkin.report.member'
    __string__ = "Check-ins by Member"

    member = fields.Many2One('member.member', "Member", required=True)
    events = fields.Integer("Events")
    days = fields.Integer("Days")
    checked_in = fields.Integer("Checked In")
    late = fields.Integer("Late")
    flagged = fields.Integer("To Review")
    rejected = fields.Integer("Rejected")
    first = fields.DateTime("First Check-in")
    last = fields.DateTime("Last Check-in")
    duration = fields.Integer(
        "Duration", help="In minutes, the sum of the durations.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('member')
        cls._order = [('checked_in', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        attendance = Attendance.__table__()
        event = Event.__table__()
        counted = attendance.counted == Literal(True)
        return (attendance
            .join(event, condition=attendance.event == event.id)
            .select(
                attendance.member.as_('id'),
                attendance.member.as_('member'),
                Count(attendance.event, distinct=True).as_('events'),
                Count(attendance.local_date, distinct=True).as_('days'),
                _count(counted).as_('checked_in'),
                _count(counted & (attendance.late == Literal(True))
                    ).as_('late'),
                _count(attendance.status == 'flagged').as_('flagged'),
                _count(attendance.status == 'rejected').as_('rejected'),
                Min(Case((counted, attendance.time), else_=Null)
                    ).as_('first'),
                Max(Case((counted, attendance.time), else_=Null)
                    ).as_('last'),
                Sum(Case((counted, attendance.duration), else_=Null)
                    ).as_('duration'),
                where=_context_where(attendance, event),
                group_by=[attendance.member]))


class ExportStart(ModelView):
    "Export Check-ins"
    __name__ = 'checkin.attendance.export.start'
    __string__ = "Export Check-ins"

    from_date = fields.Date(
        "From Date", required=True,
        domain=[If(Eval('to_date'),
                ('from_date', '<=', Eval('to_date')), ())])
    to_date = fields.Date(
        "To Date", required=True,
        domain=[If(Eval('from_date'),
                ('to_date', '>=', Eval('from_date')), ())])
    events = fields.Many2Many(
        'checkin.event', None, None, "Events",
        help="Leave empty to export every event of the period.")

    @classmethod
    def default_from_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        return Date.today().replace(day=1)

    @classmethod
    def default_to_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        return Date.today()


class Export(Wizard):
    "Export Check-ins"
    __name__ = 'checkin.attendance.export'

    start = StateView('checkin.attendance.export.start',
        'checkin.attendance_export_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Export", 'export', 'tryton-ok', default=True),
            ])
    export = StateReport('checkin.attendance.excel')

    def do_export(self, action):
        return action, {
            'from_date': self.start.from_date,
            'to_date': self.start.to_date,
            'events': [e.id for e in self.start.events],
            }

    def transition_export(self):
        return 'end'


class AttendanceExcel(Report):
    """Excel workbook of check-ins: a summary sheet (one row per event and
    local day) and a detail sheet (one row per check-in).

    Run on events (their whole history) or from the export wizard (a
    period, optionally some events).  openpyxl writes in write-only mode
    and the rows are read by batches, so the memory stays bounded whatever
    the size of the events."""
    __name__ = 'checkin.attendance.excel'

    @classmethod
    def execute(cls, ids, data):
        pool = Pool()
        ActionReport = pool.get('ir.action.report')
        Event = pool.get('checkin.event')
        data = data or {}
        action_id = data.get('action_id')
        if action_id is None:
            action, = ActionReport.search([
                    ('report_name', '=', cls.__name__),
                    ])
        else:
            action = ActionReport(action_id)
        event_ids = list(map(int, data.get('events') or ids or []))
        cls.check_access(action, 'checkin.event', event_ids)
        from_date = data.get('from_date')
        to_date = data.get('to_date')
        # Only the events the user may read: organizers export theirs
        domain = []
        if event_ids:
            domain.append(('id', 'in', event_ids))
        if from_date:
            domain.append(('end', '>=', dt.datetime.combine(
                        from_date, dt.time()) - dt.timedelta(days=1)))
        if to_date:
            domain.append(('start', '<', dt.datetime.combine(
                        to_date, dt.time()) + dt.timedelta(days=2)))
        with Transaction().set_context(_check_access=True):
            events = Event.search(domain, order=[('start', 'ASC')])
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as fp:
            cls.write_workbook(fp, events, from_date, to_date)
            fp.seek(0)
            content = fp.read()
        if len(events) == 1:
            name = '%s-%s' % (action.name, events[0].rec_name)
        else:
            name = '%s-%s-%s' % (
                action.name, from_date or '', to_date or '')
        return ('xlsx', content, False, name)

    @classmethod
    def write_workbook(cls, fileobj, events, from_date=None, to_date=None):
        """Write the workbook of the check-ins of events between the local
        dates from_date and to_date (included) into fileobj"""
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        workbook = Workbook(write_only=True)
        bold = Font(bold=True)

        def header(sheet, titles):
            row = []
            for title in titles:
                cell = WriteOnlyCell(sheet, value=title)
                cell.font = bold
                row.append(cell)
            rows = SheetRows(sheet)
            rows.append(row)
            return rows

        summary = workbook.create_sheet(gettext('checkin.msg_sheet_summary'))
        summary_rows = header(summary, [
                gettext('checkin.msg_column_%s' % c) for c in [
                    'event', 'kind', 'date', 'expected', 'checked_in',
                    'rate', 'late', 'flagged', 'rejected', 'checked_out',
                    'duration']])
        for row in cls._summary_rows(events, from_date, to_date):
            summary_rows.append(row)
        summary_rows.close()

        detail = workbook.create_sheet(gettext('checkin.msg_sheet_detail'))
        detail_rows = header(detail, [
                gettext('checkin.msg_column_%s' % c) for c in [
                    'event', 'date', 'time', 'member', 'method', 'status',
                    'late', 'distance', 'reasons', 'points', 'offline',
                    'client_uuid', 'checkout', 'checkout_source',
                    'duration']])
        for row in cls._detail_rows(events, from_date, to_date):
            detail_rows.append(row)
        detail_rows.close()
        workbook.save(fileobj)

    @classmethod
    def _labels(cls):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        names = ['status', 'method', 'reasons', 'checkout_source']
        fields_ = Attendance.fields_get(names)
        labels = {n: dict(fields_[n]['selection']) for n in names}
        labels['kind'] = dict(Event.fields_get(['kind'])['kind']['selection'])
        return labels

    @classmethod
    def _where(cls, attendance, event_id, from_date, to_date):
        where = attendance.event == event_id
        if from_date:
            where &= attendance.local_date >= from_date
        if to_date:
            where &= attendance.local_date <= to_date
        return where

    @classmethod
    def _summary_rows(cls, events, from_date, to_date):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        attendance = Attendance.__table__()
        cursor = Transaction().connection.cursor()
        labels = cls._labels()
        counted = attendance.counted == Literal(True)
        Roster = pool.get('checkin.event-member.member')
        roster = Roster.__table__()
        for event in events:
            # Counted in SQL: reading the roster loads every member
            cursor.execute(*roster.select(
                    Count(roster.id), where=roster.event == event.id))
            expected = cursor.fetchone()[0] or None
            cursor.execute(*attendance.select(
                    attendance.local_date,
                    _count(counted),
                    _count(counted & (attendance.late == Literal(True))),
                    _count(attendance.status == 'flagged'),
                    _count(attendance.status == 'rejected'),
                    _count(counted & (attendance.checkout_time != Null)),
                    Sum(Case((counted, attendance.duration), else_=Null)),
                    where=cls._where(attendance, event.id, from_date, to_date),
                    group_by=[attendance.local_date],
                    order_by=[attendance.local_date.asc]))
            rows = cursor.fetchall()
            if not event.daily:
                # One line per meeting, whatever the local days
                totals = [sum(r[i] or 0 for r in rows) for i in range(1, 7)]
                rows = [(event.local_date(event.start), *totals)]
            for (date, checked_in, late, flagged, rejected, checked_out,
                    duration) in rows:
                if isinstance(date, str):
                    date = dt.date.fromisoformat(date)
                yield [
                    event.rec_name, labels['kind'].get(event.kind), date,
                    expected, checked_in or 0,
                    round((checked_in or 0) / expected, 4)
                    if expected else None,
                    late or 0, flagged or 0, rejected or 0,
                    (checked_out or 0) if event.record_leaving else None,
                    int(duration or 0) if event.record_leaving else None]

    @classmethod
    def _detail_rows(cls, events, from_date, to_date):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Member = pool.get('member.member')
        Party = pool.get('party.party')
        Line = pool.get('member.points.line')
        attendance = Attendance.__table__()
        member = Member.__table__()
        party = Party.__table__()
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        labels = cls._labels()
        in_ = fields.SQL_OPERATORS['in']
        reasons_texts = {}

        def reasons_text(value):
            # The check-ins share a few combinations of reasons
            key = value if isinstance(value, str) else repr(value)
            if key not in reasons_texts:
                reasons_texts[key] = cls._reasons_text(
                    value, labels['reasons'])
            return reasons_texts[key]
        for event in events:
            tzinfo = event.tzinfo
            event_name = event.rec_name
            last = None
            while True:
                where = cls._where(attendance, event.id, from_date, to_date)
                if last:
                    where &= ((attendance.time > last[0])
                        | ((attendance.time == last[0])
                            & (attendance.id > last[1])))
                cursor.execute(*attendance
                    .join(member, condition=attendance.member == member.id)
                    .join(party, condition=member.party == party.id)
                    .select(
                        attendance.id, attendance.time, attendance.local_date,
                        party.name, attendance.method, attendance.status,
                        attendance.late, attendance.distance,
                        # As text: the few combinations are decoded once
                        Cast(attendance.reasons, 'VARCHAR'),
                        attendance.offline,
                        attendance.client_uuid, attendance.checkout_time,
                        attendance.checkout_source, attendance.duration,
                        where=where,
                        order_by=[attendance.time.asc, attendance.id.asc],
                        limit=FETCH_ROWS))
                rows = cursor.fetchall()
                if not rows:
                    break
                last = (rows[-1][1], rows[-1][0])
                origins = ['checkin.attendance,%d' % r[0] for r in rows]
                cursor.execute(*line.select(
                        line.origin, Sum(line.points),
                        # One parameter (an array) on PostgreSQL
                        where=in_(line.origin, origins),
                        group_by=[line.origin]))
                points = {o: p for o, p in cursor}
                for (id_, time, date, name, method, status, late, distance,
                        reasons, offline, client_uuid, checkout,
                        checkout_source, duration) in rows:
                    if isinstance(date, str):
                        date = dt.date.fromisoformat(date)
                    local = cls._local(time, tzinfo)
                    if checkout is not None:
                        checkout = cls._local(checkout, tzinfo)
                    yield [
                        event_name, date, local, name,
                        labels['method'].get(method, method),
                        labels['status'].get(status, status),
                        bool(late),
                        round(distance) if distance is not None else None,
                        reasons_text(reasons),
                        int(points.get('checkin.attendance,%d' % id_) or 0),
                        bool(offline),
                        client_uuid,
                        checkout,
                        labels['checkout_source'].get(checkout_source)
                        if checkout_source else None,
                        duration,
                        ]

    @classmethod
    def _local(cls, time, tzinfo):
        "Return the naive local time in tzinfo of a naive UTC time (or None)"
        if time is None:
            return None
        if isinstance(time, str):
            time = dt.datetime.fromisoformat(time)
        return time.replace(tzinfo=dt.timezone.utc).astimezone(
            tzinfo).replace(tzinfo=None)

    @classmethod
    def _reasons_text(cls, value, labels):
        "Return the labels of the reasons stored as JSON"
        if not value:
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return ', '.join(labels.get(r, r) for r in value) or None


class EventReport(Report):
    "Check-in Report"
    __name__ = 'checkin.event.report'

    @classmethod
    def get_context(cls, records, header, data):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        context = super().get_context(records, header, data)
        labels = AttendanceExcel._labels()
        reports = []
        for event in records:
            stats = event.stats(recent=0)
            attendances = Attendance.search([
                    ('event', '=', event.id),
                    ], order=[('time', 'ASC'), ('id', 'ASC')])
            checked = {a.member.id for a in attendances if a.counted}
            absent = [m for m in event.roster if m.id not in checked]
            reports.append({
                    'event': event,
                    'stats': stats,
                    'start': event.local(event.start),
                    'end': event.local(event.end),
                    'attendances': [{
                            'member': a.member.rec_name,
                            'date': a.local_date,
                            'time': event.local(a.time).strftime('%H:%M:%S'),
                            'method': labels['method'].get(a.method),
                            'status': labels['status'].get(a.status),
                            'status_code': a.status,
                            'late': bool(a.late),
                            'distance': (round(a.distance)
                                if a.distance is not None else ''),
                            'reasons': ', '.join(labels['reasons'].get(r, r)
                                for r in (a.reasons or [])),
                            } for a in attendances],
                    'absent': [m.rec_name for m in absent],
                    'kind': labels['kind'].get(event.kind),
                    })
        context['reports'] = reports
        context['isoformat'] = isoformat
        context['printed'] = clock.now()
        return context
