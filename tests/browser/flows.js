// The flows of the browser tests, in order: later flows use what earlier
// ones made (ctx.state).  Each ends with assertions on what the page shows.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { Rpc, Api } = require('./rpc');
const { Sao } = require('./sao');

const ROOT = path.resolve(__dirname, '..', '..');
const PASSWORD = 'Browser-Test-2026-pw';
const PARK = { lat: 31.2196, lon: 121.5447 };  // Century Park North Gate
const EVENT = process.argv.includes('--keep-db')
    ? `Sunset yoga ${new Date().toISOString().slice(11, 19)}` : 'Sunset yoga';
const QR_WINDOW = 10;  // seconds, the smallest the event allows

const USERS = {
    organizer: { name: 'Olga Organizer', groups: [
        'Check-in Organizer', 'Members'] },
    reviewer: { name: 'Rita Reviewer', groups: [
        'Check-in Organizer', 'Check-in Reviewer',
        'Members'] },
    booker: { name: 'Bao Booking', groups: [
        'Bookings',
        'Booking Staff',
        'Members'] },
    points: { name: 'Paul Points', groups: [
        'Members', 'Points Manager'] },
    zhorganizer: { name: '张组织', language: 'zh_CN', groups: [
        'Check-in Organizer', 'Members'] },
};

async function shot(ctx, page, name) {
    if (!ctx.screenshots) return;
    await page.screenshot({ path: path.join(ROOT, 'doc', 'images',
        `guide-${name}.png`) });
    ctx.log(`screenshot doc/images/guide-${name}.png`);
}

async function saoAs(ctx, user, options = {}) {
    const page = await ctx.newPage(options);
    const sao = new Sao(page, ctx.server, options);
    await sao.init();
    await sao.login(user, user === 'admin' ? ctx.server.adminPassword : PASSWORD);
    return sao;
}

async function text(locator) {
    return (await locator.innerText()).trim();
}

const flows = [];
const flow = (name, options, run) => flows.push({ name, ...options, run });

flow('set-up: staff users of each role, through RPC', {}, async (ctx) => {
    const rpc = await new Rpc(ctx.server, 'admin', ctx.server.adminPassword)
        .connect();
    const company = rpc.context.company;
    const [zh] = await rpc.search('ir.lang', [['code', '=', 'zh_CN']]);
    for (const [login, user] of Object.entries(USERS)) {
        if ((await rpc.search('res.user', [['login', '=', login]])).length) {
            continue;  // a kept database (--keep-db)
        }
        const groups = [];
        for (const group of user.groups) {
            groups.push(await rpc.group(group));
        }
        await rpc.model('res.user', 'create', [{
            login, name: user.name, password: PASSWORD,
            groups: [['add', groups]],
            companies: [['add', [company]]], company,
            ...(user.language ? { language: zh.id } : {}),
        }]);
    }
    ctx.state.rpc = rpc;
    ctx.state.api = new Api(ctx.server);
});

flow('0. the list views of the suite open in sao', { needs: ['rpc'] },
async (ctx) => {
    // sao 8.0 has no list column for a DateTime field: a <field> of a
    // DateTime in a tree view needs widget="date" and/or widget="time" (like
    // trytond's own lists), otherwise the tab never opens
    const sao = await saoAs(ctx, 'admin');
    const lists = [['Check-in', 'Events'], ['Check-in', 'Check-ins'],
        ['Bookings', 'Bookings'], ['Members', 'Members']];
    const broken = [];
    for (const entry of lists) {
        try {
            await sao.menu(...entry);
            await sao.tab.locator('table tbody tr').first().waitFor(
                { timeout: 20000 });
        } catch (e) {
            broken.push(`${entry.join(' > ')}: ${e.message.split('\n')[0]}`);
            sao.errors.length = 0;
        }
    }
    assert.deepEqual(broken, [], 'lists that do not open in sao (a DateTime '
        + 'field in a tree view needs widget="date"/"time"):\n'
        + broken.join('\n'));
});

flow('1. an organizer creates an event with a location and a rotating QR '
        + 'code in sao and opens it', { needs: ['rpc'] }, async (ctx) => {
    const sao = await saoAs(ctx, 'organizer');
    await sao.menu('Check-in', 'Events');
    await sao.toolbar('new_');
    await sao.fill('name', EVENT);
    await sao.fill('start', await sao.datetimeText(-1, 8));
    await sao.fill('end', await sao.datetimeText(1, 20));
    await sao.select('methods', 'qr', 'staff');
    await sao.select('policy', 'flag');
    await sao.fill('points', 15);
    await sao.notebook('Location');
    await sao.many2one('place', 'Century Park', 'Century Park North Gate');
    assert.match(await sao.value('address'), /锦绣路1001号/);
    assert.equal(await sao.value('latitude'), '31.2196000');
    await shot(ctx, sao.page, 'event-location');
    await sao.notebook('Kiosk');
    await sao.fill('qr_window', QR_WINDOW);
    await sao.save();
    assert.equal(await sao.value('state'), 'Draft');
    await sao.button('open');
    assert.equal(await sao.value('state'), 'Open');
    // The Kiosk page of the form shows the current QR code
    await sao.notebook('Kiosk');
    await sao.page.waitForTimeout(500);
    assert.ok((await sao.value('qr_token')).length > 10, 'a QR token shown');
    await shot(ctx, sao.page, 'event-open');
    // The Kiosk Screen button gives the addresses of the two pages
    await sao.button('kiosk_link', { dialog: true });
    const kiosk = await sao.value('kiosk_url');
    const dashboard = await sao.value('dashboard_url');
    await shot(ctx, sao.page, 'event-kiosk-link');
    assert.match(kiosk, /\/mp\/v1\/events\/\d+\/kiosk\?token=/);
    assert.match(dashboard, /\/mp\/v1\/events\/\d+\/dashboard\?token=/);
    const [event] = await ctx.state.rpc.search('checkin.event',
        [['name', '=', EVENT]], ['id', 'state', 'qr_window', 'latitude']);
    assert.equal(event.state, 'open');
    assert.equal(event.qr_window, QR_WINDOW);
    Object.assign(ctx.state, { event: event.id, kiosk, dashboard });
});

flow('2. the kiosk page shows a QR code that changes after the window and '
        + 'that the API accepts', { needs: ['kiosk'] }, async (ctx) => {
    const page = await ctx.newPage();
    await page.goto(ctx.state.kiosk);
    const qr = page.locator('img#qr');
    await page.waitForFunction(() => {
        const img = document.getElementById('qr');
        return img && img.dataset.token && img.naturalWidth > 0;
    });
    await assert.doesNotReject(page.locator('h1', { hasText: EVENT }).waitFor());
    const first = await qr.getAttribute('data-token');
    assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml/);
    assert.match(await text(page.locator('#until')), /^\d\d:\d\d:\d\d$/);
    // The countdown is written with the code, then every 250 ms
    await page.waitForFunction(
        () => document.getElementById('next').textContent !== '');
    assert.match(await text(page.locator('#next')), /^\d+ s$/);
    assert.equal(await text(page.locator('#count')), '0');
    await shot(ctx, page, 'kiosk');
    // The next window gives another code
    await page.waitForFunction((t) =>
        document.getElementById('qr').dataset.token !== t, first,
    { timeout: (QR_WINDOW * 2 + 10) * 1000 });
    const second = await qr.getAttribute('data-token');
    assert.notEqual(second, first);
    // A member scans it: the API accepts the token shown
    const { api } = ctx.state;
    const members = [];
    // New members register in the mini-program (unique names and phones
    // also when the database is kept between runs)
    const tag = ctx.keepDb ? String(Date.now()).slice(-4) : '';
    const names = ['Li Wei', 'Zhang Min', 'Chen Jing'];
    for (let i = 1; i <= 3; i++) {
        const phone = `139${tag.padStart(4, '0')}770${i}`;
        const name = `${names[i - 1]}${tag ? ' ' + tag : ''}`;
        const login = await api.ok('POST', 'auth/register', { body: {
            phone, password: 'Walnut-Tea-2026', name } });
        members.push({ phone, name, token: login.access_token });
    }
    const result = await api.ok('POST', 'checkins', { token: members[0].token,
        body: { qr_token: second, lat: PARK.lat, lon: PARK.lon,
            accuracy_m: 10 } });
    assert.ok(['valid', 'late'].includes(result.status || result.checkin.status),
        JSON.stringify(result));
    // and the kiosk's count follows (refreshed every 5 s)
    await page.locator('#count', { hasText: /^1/ }).waitFor({ timeout: 20000 });
    Object.assign(ctx.state, { members, token: second });
});

flow('3. members check in through the API; the live dashboard and the '
        + "event's graph in sao show the count", { needs: ['members'] },
async (ctx) => {
    const { api, members } = ctx.state;
    const page = await ctx.newPage();
    await page.goto(ctx.state.kiosk);
    await page.waitForFunction(() => document.getElementById('qr').dataset.token);
    const token = await page.locator('img#qr').getAttribute('data-token');
    await api.ok('POST', 'checkins', { token: members[1].token,
        body: { qr_token: token, lat: PARK.lat + 0.0003, lon: PARK.lon } });
    // 2 km away: accepted and flagged for review (policy "Accept and flag")
    const far = await api.ok('POST', 'checkins', { token: members[2].token,
        body: { qr_token: token, lat: PARK.lat + 0.02, lon: PARK.lon } });
    assert.equal(far.status || far.checkin.status, 'flagged', JSON.stringify(far));
    const dash = await ctx.newPage();
    await dash.goto(ctx.state.dashboard);
    await dash.locator('#count', { hasText: /^3/ }).waitFor({ timeout: 20000 });
    assert.equal(await text(dash.locator('#flagged')), '1');
    await dash.locator('#recent tr').nth(2).waitFor();
    const recent = await dash.locator('#recent').innerText();
    // Other people's names are masked on a screen ("Li **"), never shown
    for (const m of members) {
        assert.ok(recent.includes(m.name.split(' ')[0] + ' **'), recent);
        assert.ok(!recent.includes(m.name) && !recent.includes(
            m.phone.slice(-4)), recent);
    }
    await shot(ctx, dash, 'dashboard');
    // sao: the event's statistics and the graph of its check-ins
    const sao = await saoAs(ctx, 'organizer');
    await sao.menu('Check-in', 'Events');
    await sao.openRow(EVENT);
    await sao.notebook('Statistics');
    assert.equal(await sao.number('checked_in'), 3);
    assert.equal(await sao.number('flagged'), 1);
    await shot(ctx, sao.page, 'event-statistics');
    await sao.toolbar('relate');
    await sao.tab.locator('.dropdown-menu a', { hasText: 'Check-ins' }).first().click();
    await sao.idle(1000);
    // The relate opens a new tab with the list of the check-ins
    await sao.tab.locator('tr', { hasText: members[2].name }).first().waitFor();
    await sao.tab.locator('tr', { hasText: members[2].name }).first()
        .locator('td').first().click();
    await sao.toolbar('switch_');  // the form
    // The form (with its tabs of lines) is drawn before the next switch:
    // a click while it loads is lost
    await sao.tab.locator('.form:visible').first().waitFor();
    await sao.idle(500);
    await sao.toolbar('switch_');  // the graph
    const svg = sao.tab.locator('svg').first();
    await svg.waitFor();
    await shot(ctx, sao.page, 'event-graph');
    // One bar (the 5 minutes of the arrivals) up to 3 check-ins on the
    // y axis
    await sao.page.waitForTimeout(500);
    const texts = await sao.tab.locator('svg text').allTextContents();
    const ticks = texts.map(Number).filter((n) => !Number.isNaN(n));
    assert.equal(Math.max(...ticks), 3, `axis: ${texts.join(' ')}`);
    ctx.state.graphChecked = true;
});

flow('4. a reviewer approves the flagged check-in in sao and the member '
        + 'earns the points', { needs: ['members'] }, async (ctx) => {
    const { rpc, members } = ctx.state;
    const member = members[2];
    const [before] = await rpc.search('member.member',
        [['party.name', '=', member.name]], ['id', 'points_balance']);
    const sao = await saoAs(ctx, 'reviewer');
    await sao.menu('Check-in', 'Check-ins to Review');
    const row = sao.tab.locator('tr', { hasText: member.name }).first();
    await row.waitFor();
    // The reason of the flag is shown: the phone was 2 km away
    assert.match(await row.innerText(), /Out of Range/);
    // sao runs a list button on the selected row: select it, then approve
    await row.locator('td').nth(2).click();
    await row.locator('button[name=approve]').scrollIntoViewIfNeeded();
    await shot(ctx, sao.page, 'review-list');
    await row.locator('button[name=approve]').click();
    await sao.idle(1500);
    await sao.noErrorDialog();
    // Approved: it leaves the list of the check-ins to review
    await sao.toolbar('reload');
    await sao.tab.locator('tr', { hasText: member.name })
        .waitFor({ state: 'detached' });
    const [attendance] = await rpc.search('checkin.attendance',
        [['member', '=', before.id], ['event', '=', ctx.state.event]],
        ['status']);
    assert.notEqual(attendance.status, 'flagged');
    // The member's form shows the points of the check-in
    await sao.menu('Members', 'Members');
    const search = sao.tab.locator('input[placeholder=Search]:visible').first();
    await search.fill(member.name);
    await search.press('Enter');
    await sao.idle(1000);
    await sao.openRow(member.name);
    assert.equal(await sao.number('points_balance'),
        before.points_balance + 15);
    await shot(ctx, sao.page, 'member-points');
});

flow('5. booking staff confirm a booking from the calendar; a later one '
        + 'cannot be started yet, one that started is finished', { needs: ['rpc'] }, async (ctx) => {
    const { rpc } = ctx.state;
    const now = new Date();
    const shown = await rpc.search('booking.booking',
        [['state', 'not in', ['draft', 'cancelled']]], ['id', 'state', 'start',
            'service.name', 'member.rec_name'], [['start', 'ASC']]);
    // A pending booking told apart in the calendar by member and service
    const key = (b) => `${b['member.'].rec_name}/${b['service.'].name}`;
    const bookings = shown.filter((b) => b.state === 'pending'
        && shown.filter((o) => key(o) === key(b)).length === 1);
    const toDate = (d) => new Date(Date.UTC(d.year, d.month - 1, d.day,
        d.hour, d.minute));
    // The calendar opens on this week, from Sunday in the browser's time
    // zone (Asia/Shanghai, UTC+8, see run.js): the first pending booking
    // from then on, which may be in a later week when few slots of this one
    // are left (a Friday afternoon)
    const shanghai = 8 * 3600000;
    const weekStart = new Date(now.getTime() + shanghai);
    weekStart.setUTCHours(0, 0, 0, 0);
    weekStart.setUTCDate(weekStart.getUTCDate() - weekStart.getUTCDay());
    weekStart.setTime(weekStart.getTime() - shanghai);
    const booking = bookings.find((b) => toDate(b.start) >= weekStart);
    assert.ok(booking, 'a pending booking in the demo data');
    const weeks = Math.floor(
        (toDate(booking.start) - weekStart) / (7 * 86400000));
    const sao = await saoAs(ctx, 'booker');
    await sao.menu('Bookings', 'Calendar');
    for (let i = 0; i < weeks; i++) {
        await sao.tab.locator('.fc-next-button').first().click();
        await sao.idle(500);
    }
    const item = sao.tab.locator('.fc-event, .fc-daygrid-event, .fc-timegrid-event')
        .filter({ hasText: booking['member.'].rec_name })
        .filter({ hasText: booking['service.'].name }).first();
    await item.waitFor();
    await shot(ctx, sao.page, 'booking-calendar');
    await item.dblclick();
    await sao.idle(1000);
    assert.equal(await sao.value('state'), 'Pending');
    await sao.button('confirm');
    assert.equal(await sao.value('state'), 'Confirmed');
    await shot(ctx, sao.page, 'booking-done');
    // A job is started from 30 minutes before its start (issue 17): the
    // booking of later this week is refused, a job of today that has
    // started is finished
    const [pending] = await rpc.model('booking.booking', 'read', [booking.id],
        ['state', 'start']);
    assert.equal(pending.state, 'confirmed');
    if (toDate(pending.start).getTime() - now.getTime() > 3600000) {
        await assert.rejects(rpc.model('booking.booking', 'begin',
            [booking.id]), /cannot be started before/);
    }
    const [started] = await rpc.search('booking.booking',
        [['state', '=', 'in_progress']], ['id'], [['start', 'ASC']]);
    assert.ok(started, 'a job in progress in the demo data');
    await rpc.model('booking.booking', 'finish', [started.id]);
    const [done] = await rpc.model('booking.booking', 'read', [started.id],
        ['state']);
    assert.equal(done.state, 'done');
});

flow('6. a points manager adjusts points with the wizard', { needs: ['rpc'] },
async (ctx) => {
    const { rpc } = ctx.state;
    const [member] = await rpc.search('member.member',
        [['phone', 'like', '%13800000001']], ['id', 'points_balance',
            'party.name']);
    const sao = await saoAs(ctx, 'points');
    await sao.menu('Members', 'Members');
    const name = member['party.'].name;
    const search = sao.tab.locator('input[placeholder=Search]:visible').first();
    await search.fill(name);
    await search.press('Enter');
    await sao.idle(1000);
    await sao.openRow(name);
    assert.equal(await sao.number('points_balance'), member.points_balance);
    await sao.button('adjust_points', { dialog: true });
    const dialog = sao.page.locator('.modal.in').last();
    assert.equal(await sao.number('balance'), member.points_balance);
    await sao.fill('points', 50);
    await sao.fill('reason', 'Helped at the spring fair');
    await shot(ctx, sao.page, 'points-adjust');
    await dialog.getByRole('button', { name: /Adjust/i }).click();
    sao._dialog = false;
    await sao.idle(1500);
    await sao.noErrorDialog();
    assert.equal(await sao.number('points_balance'),
        member.points_balance + 50);
    await sao.tab.locator('tr', { hasText: 'Helped at the spring fair' })
        .first().waitFor();
    await shot(ctx, sao.page, 'points-adjusted');
});

flow('7. in Simplified Chinese the same screens show translated labels',
    { needs: ['rpc'] }, async (ctx) => {
        // The event of flow 1 (or the demo's yoga class) gets the Chinese
        // organizer too
        const { rpc } = ctx.state;
        const [zh] = await rpc.search('res.user', [['login', '=', 'zhorganizer']]);
        const events = await rpc.search('checkin.event', [['name', 'in',
            [EVENT, 'Morning yoga in Century Park']]]);
        await rpc.model('checkin.event', 'write', events.map((e) => e.id),
            { organizers: [['add', [zh.id]]] });
        const name = ctx.state.event ? EVENT : 'Morning yoga in Century Park';
        const sao = await saoAs(ctx, 'zhorganizer', { locale: 'zh-CN' });
        await sao.page.locator('#menu .column-char[title="签到"]').waitFor();
        await sao.menu('签到', '活动');
        await sao.openRow(name);
        const form = await sao.tab.innerText();
        for (const label of ['名称', '开始时间', '状态']) {
            assert.ok(form.includes(label), `${label} in the form:\n${form.slice(0, 400)}`);
        }
        await shot(ctx, sao.page, 'zh-event');
        if (ctx.state.kiosk) {
            // The kiosk page follows the language of the screen's browser
            const page = await ctx.newPage({ locale: 'zh-CN' });
            await page.goto(ctx.state.kiosk);
            await page.getByText('请用小程序扫码签到').waitFor();
            await page.waitForFunction(() =>
                document.getElementById('qr').dataset.token);
            await shot(ctx, page, 'zh-kiosk');
        }
    });

// Issue 17: what a new user saw on the screens, one check each

// The labels of the active tab (or dialog) whose widget is on another row
async function labelsOffTheirRow(scope) {
    return scope.evaluate((root) => {
        const off = [];
        for (const label of root.querySelectorAll('label.form-label[for]')) {
            const target = document.getElementById(label.getAttribute('for'));
            if (!target || !label.offsetParent || !target.offsetParent) continue;
            const l = label.getBoundingClientRect();
            const t = target.getBoundingClientRect();
            const middle = (l.top + l.bottom) / 2;
            if (middle < t.top - 2 || middle > t.bottom + 2) {
                off.push(label.textContent.trim());
            }
        }
        return off;
    });
}

// The titles of the visible columns of the list of the current tab
async function columnTitles(sao) {
    return sao.tab.locator('table.tree > thead > tr > th:visible')
        .evaluateAll((ths) => ths.map((th) => th.textContent.trim())
            .filter((t) => t));
}

flow('8. the event form puts each label on the row of its value; the Kiosk '
        + 'Screen dialog shows its open buttons and the whole addresses',
{ needs: ['rpc'] }, async (ctx) => {
    // The event of flow 1, else the demo's (organized by no test user)
    const sao = await saoAs(ctx, ctx.state.event ? 'organizer' : 'admin');
    await sao.menu('Check-in', 'Events');
    await sao.openRow(ctx.state.event ? EVENT : 'Morning yoga in Century Park');
    for (const page of ['General', 'Location', 'Kiosk']) {
        await sao.notebook(page);
        const pane = sao.tab.locator('.tab-pane.active').last();
        assert.deepEqual(await labelsOffTheirRow(pane), [],
            `${page}: labels on another row than their value`);
    }
    await sao.button('kiosk_link', { dialog: true });
    const dialog = sao.page.locator('.modal.in').last();
    await sao.page.waitForTimeout(500);
    const box = await dialog.locator('.modal-content').boundingBox();
    for (const name of ['kiosk_url', 'dashboard_url']) {
        // The open-link button of the address, inside the dialog
        const button = dialog.locator(`[name="${name}"]:visible`).first()
            .locator('xpath=ancestor::div[contains(@class, "input-group")][1]')
            .locator('a, button').last();
        const b = await button.boundingBox();
        assert.ok(b && b.x >= box.x && b.x + b.width <= box.x + box.width + 0.5,
            `the open button of ${name} is clipped: ${JSON.stringify(b)} `
            + `in ${JSON.stringify(box)}`);
        // and the whole address, wrapped
        const text = dialog.locator(`textarea[name="${name}"]`);
        const [value, hidden] = await text.evaluate(
            (e) => [e.value, e.scrollHeight - e.clientHeight]);
        assert.match(value, /\?token=[\w.-]{40,}$/);
        assert.ok(hidden <= 1, `${name}: ${hidden} px of the address hidden`);
    }
});

flow('9. the review list fits a 1440-pixel screen', { needs: ['rpc'] },
async (ctx) => {
    const sao = await saoAs(ctx, 'reviewer',
        { viewport: { width: 1440, height: 900 } });
    await sao.menu('Check-in', 'Check-ins to Review');
    await sao.tab.locator('table.tree tbody tr').first().waitFor();
    const titles = await columnTitles(sao);
    for (const title of ['Reasons', 'Distance', 'Reject', 'Approve']) {
        assert.ok(titles.includes(title), `${title} in ${titles}`);
    }
    const [scroll, client] = await sao.tab.locator('.treeview').first()
        .evaluate((e) => [e.scrollWidth, e.clientWidth]);
    assert.ok(scroll <= client, `the list is ${scroll} px wide in ${client}`);
    const row = sao.tab.locator('table.tree tbody tr').first();
    for (const name of ['reject', 'approve']) {
        const b = await row.locator(`button[name=${name}]`).boundingBox();
        assert.ok(b && b.x + b.width <= 1440, `${name} off-screen`);
    }
});

flow('10. lists have one title per column; a ledger line is named by its '
        + 'member, points and reason; the member form shows one streak',
{ needs: ['rpc'] }, async (ctx) => {
    const { rpc } = ctx.state;
    const sao = await saoAs(ctx, 'admin');
    for (const entry of [['Check-in', 'Events'], ['Check-in', 'Check-ins'],
        ['Bookings', 'Bookings'], ['Bookings', 'Today']]) {
        await sao.menu(...entry);
        const titles = await columnTitles(sao);
        const repeated = titles.filter((t, i) => titles.indexOf(t) !== i);
        assert.deepEqual(repeated, [], `${entry.join(' > ')}: ${titles}`);
    }
    // A check-in with points: its Points Line field names the line
    const [attendance] = await rpc.search('checkin.attendance',
        [['points_line', '!=', null]], ['id', 'member.rec_name',
            'points_line.rec_name', 'points_line.points'], [['time', 'DESC']]);
    assert.ok(attendance, 'a check-in with points in the demo');
    const name = attendance['points_line.'].rec_name;
    assert.doesNotMatch(name, /^\(\d+\)$/);
    assert.ok(name.includes(attendance['member.'].rec_name), name);
    await sao.menu('Check-in', 'Check-ins');
    const search = sao.tab.locator('input[placeholder=Search]:visible').first();
    await search.fill(`ID: ${attendance.id}`);
    await search.press('Enter');
    await sao.idle(1000);
    await sao.openRow(attendance['member.'].rec_name);
    await sao.notebook('Points');
    const shown = await sao.value('points_line');
    assert.match(shown, new RegExp(`^\\+${attendance['points_line.'].points} `),
        shown);
    assert.ok(shown.includes(attendance['member.'].rec_name), shown);
    // The member form: "Current Streak", not also "Streak Length"
    await sao.menu('Members', 'Members');
    await sao.tab.locator('table.tree tbody tr').first().locator('td')
        .first().click();
    await sao.toolbar('switch_');
    await sao.notebook('Streak');
    const form = await sao.tab.innerText();
    assert.ok(form.includes('Current Streak'), form.slice(0, 300));
    assert.ok(!form.includes('Streak Length'), 'Streak Length shown too');
});

flow('11. booking staff see the next booking to confirm first; bookings '
        + 'and revenue per day are separate graphs', { needs: ['rpc'] },
async (ctx) => {
    const { rpc } = ctx.state;
    const pending = await rpc.search('booking.booking',
        [['state', '=', 'pending']], ['id', 'start', 'member.rec_name'],
        [['start', 'ASC'], ['id', 'ASC']]);
    assert.ok(pending.length >= 2, 'pending bookings in the demo');
    const sao = await saoAs(ctx, 'booker');
    await sao.menu('Bookings', 'Bookings');
    await sao.tab.locator('table.tree tbody tr').first().waitFor();
    const first = await sao.tab.locator('table.tree tbody tr').first()
        .innerText();
    assert.ok(first.includes(pending[0]['member.'].rec_name),
        `first row ${first} is not the next pending booking `
        + JSON.stringify(pending[0]));
    // Counts on their own axis: the ticks are numbers of bookings
    const count = async () => {
        const svg = sao.tab.locator('svg').first();
        await svg.waitFor();
        await sao.page.waitForTimeout(500);
        return (await sao.tab.locator('svg text').allTextContents())
            .map((t) => Number(t.replace(/[,\s]/g, '')))
            .filter((n) => !Number.isNaN(n));
    };
    await sao.menu('Bookings', 'Bookings per Day');
    const bookings = await count();
    const legend = await sao.tab.locator('svg').first().innerHTML();
    assert.ok(!legend.includes('Revenue'), 'revenue on the bookings graph');
    assert.ok(Math.max(...bookings) <= pending.length + 100,
        `axis of counts: ${bookings}`);
    await sao.menu('Bookings', 'Revenue per Day');
    const revenue = await count();
    assert.ok(Math.max(...revenue) > Math.max(...bookings),
        `revenue axis ${revenue} / counts ${bookings}`);
});

flow('12. the live dashboard fits a 1600 x 900 screen, has a time axis and '
        + 'speaks Chinese', { needs: ['dashboard'] }, async (ctx) => {
    for (const locale of ['en-US', 'zh-CN']) {
        const page = await ctx.newPage({ locale });
        await page.goto(ctx.state.dashboard);
        await page.locator('#recent tr').first().waitFor({ timeout: 20000 });
        const [scroll, height] = await page.evaluate(() => [
            document.documentElement.scrollHeight, innerHeight]);
        assert.ok(scroll <= height, `${locale}: ${scroll} px in ${height}`);
        const bottom = await page.locator('#recent tr').last()
            .evaluate((e) => e.getBoundingClientRect().bottom);
        assert.ok(bottom <= 900, `${locale}: last row at ${bottom}`);
        const axis = await page.locator('#chart .t').allTextContents();
        assert.ok(axis.some((t) => /^\d\d:\d\d$/.test(t)), `axis: ${axis}`);
        const cells = await page.locator('#recent td').allTextContents();
        for (const code of ['qr', 'valid', 'late', 'flagged', 'staff']) {
            assert.ok(!cells.includes(code), `${locale}: raw ${code}`);
        }
        // The statuses and methods of the check-ins of flows 2 and 3
        if (locale === 'zh-CN') {
            assert.ok(cells.includes('动态二维码'), cells.join(' '));
            assert.ok(cells.some((c) => ['有效', '迟到', '待审核'].includes(c)),
                cells.join(' '));
        } else {
            assert.ok(cells.includes('Rotating QR Code'), cells.join(' '));
            assert.ok(cells.some((c) => ['Valid', 'Late', 'Flagged']
                .includes(c)), cells.join(' '));
        }
    }
});

module.exports = { flows };
