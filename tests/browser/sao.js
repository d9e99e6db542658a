// Helpers to drive the sao web client like a user does.
'use strict';

class Sao {
    constructor(page, server) {
        this.page = page;
        this.server = server;
        this.errors = [];
        page.on('pageerror', (e) => this.errors.push(e.message));
        // Every file the client fetches exists (sao asked for
        // locale/en_US.json and got 405)
        page.on('response', (r) => {
            if (r.request().method() === 'GET' && r.status() >= 400) {
                this.errors.push(`GET ${r.url()}: ${r.status()}`);
            }
        });
    }

    async init() {
    }

    async login(login, password) {
        const { page } = this;
        await page.goto(this.server.url);
        await page.locator('#login').waitFor();
        await page.waitForTimeout(1000);
        const database = page.locator('select#database');
        if (await database.isVisible()) {
            await database.selectOption(this.server.name);
        }
        await page.fill('#login', login);
        await page.keyboard.press('Enter');
        const pw = page.locator('input[type=password]').last();
        await pw.waitFor({ timeout: 60000 });
        await pw.fill(password);
        await page.keyboard.press('Enter');
        await page.locator('#menu .column-char').first().waitFor(
            { timeout: 90000 });
        await this.idle();
    }

    // Wait until sao has no RPC running ("Processing" is hidden)
    async idle(extra = 300) {
        const { page } = this;
        await page.waitForTimeout(200);
        await page.waitForFunction(() => {
            const p = document.querySelector('#processing');
            return !p || getComputedStyle(p).display === 'none'
                || p.offsetParent === null;
        }, null, { timeout: 90000 });
        await page.waitForTimeout(extra);
        this.checkErrors();
    }

    checkErrors() {
        if (this.errors.length) {
            const errors = this.errors.splice(0);
            throw new Error('sao error: ' + errors.join('; '));
        }
    }

    // Open a menu entry by its path of names, like a double click in the
    // menu tree
    async menu(...names) {
        const { page } = this;
        const cellsOf = (name) => page.locator(
            `#menu .column-char[title="${name}"]`);
        for (let i = 0; i < names.length; i++) {
            const cells = cellsOf(names[i]);
            const cell = i ? cells.last() : cells.first();
            await cell.waitFor();
            if (i < names.length - 1) {
                const min = names[i + 1] === names[i] ? 1 : 0;
                if ((await cellsOf(names[i + 1]).count()) <= min) {
                    await cell.locator('xpath=ancestor::tr[1]')
                        .locator('.expander').click();
                    await page.waitForFunction(([sel, n]) =>
                        document.querySelectorAll(sel).length > n,
                    [`#menu .column-char[title="${names[i + 1]}"]`, min]);
                }
            } else {
                await cell.dblclick();
            }
        }
        await this.idle(800);
    }

    // The current tab
    get tab() {
        return this.page.locator('#tabcontent > .tab-pane.active');
    }

    // The visible widget of field name in the current tab (or dialog)
    field(name, scope) {
        return (scope || this.scope()).locator(
            `[name="${name}"]:visible`).first();
    }

    // The open dialog if any, else the current tab
    scope() {
        return this._dialog ? this.page.locator('.modal.in').last() : this.tab;
    }

    async dialogOpen() {
        return (await this.page.locator('.modal.in').count()) > 0;
    }

    async fill(name, value) {
        // Type like a user: a number field swaps its text input for a
        // number input on focus, a fill() of the text input is lost
        const input = this.field(name);
        for (let attempt = 0; ; attempt++) {
            await input.click();
            await this.page.keyboard.press('Control+A');
            await this.page.keyboard.type(String(value));
            const typed = await input.inputValue().catch(() => null);
            if (typed === String(value) || typed === null || attempt >= 2) {
                break;
            }
            await this.page.waitForTimeout(500);
        }
        await this.page.keyboard.press('Tab');
        await this.idle();
    }

    async select(name, ...values) {
        await this.field(name).selectOption(
            values.map((v) => JSON.stringify(v)));
        await this.idle();
    }

    // Fill a many2one: type, Tab, and pick rowText in the search dialog
    // sao opens when the text matches several records or is not exact
    async many2one(name, text, rowText) {
        const { page } = this;
        const input = this.field(name);
        await input.fill(text);
        await input.press('Tab');
        await this.idle(800);
        const dialog = page.locator('.modal.in').last();
        if (await dialog.count()) {
            await dialog.locator('tr', { hasText: rowText || text }).first()
                .locator('td').nth(2).click();
            await dialog.getByRole('button', { name: 'OK', exact: true })
                .click();
            await this.idle(800);
        }
    }

    async notebook(page) {
        await this.tab.locator('.nav-tabs a[role=tab]', { hasText: page })
            .first().click();
        await this.page.waitForTimeout(300);
    }

    async save() {
        await this.page.keyboard.press('Control+s');
        await this.idle(800);
        await this.noErrorDialog();
    }

    // Click a button of the form; { dialog: true } when it opens a wizard
    async button(name, { dialog = false } = {}) {
        await this.scope().locator(`button[name="${name}"]:visible`).first()
            .click();
        await this.idle(1000);
        if (dialog) {
            await this.page.locator('.modal.in').last().waitFor();
            this._dialog = true;
        } else {
            await this.noErrorDialog();
        }
    }

    async toolbar(id) {
        await this.tab.locator(`button#${id}:visible:not([disabled])`).first()
            .click();
        await this.idle(1000);
    }

    // A server error or a user error opens a dialog: fail with its text
    async noErrorDialog() {
        const box = this.page.locator('.modal.in');
        if (!this._dialog && await box.count()) {
            throw new Error('sao shows: ' + (await box.last().innerText())
                .slice(0, 500));
        }
    }

    async value(name) {
        const el = this.field(name);
        const tag = await el.evaluate((e) => e.tagName);
        if (tag === 'SELECT') {
            return (await el.locator('option:checked').textContent()).trim();
        }
        return el.inputValue();
    }

    // The value of a number field, without thousands separators
    async number(name) {
        return Number((await this.value(name)).replace(/[,\s]/g, ''));
    }

    // The datetime text sao expects, for now + days at hour:00 local
    async datetimeText(days, hour) {
        return this.page.evaluate(([d, h]) => {
            const f = Sao.common.moment_format(
                Sao.common.date_format() + ' %H:%M:%S');
            return moment().add(d, 'day').hour(h).minute(0).second(0)
                .format(f);
        }, [days, hour]);
    }

    // Open the record of the list row showing text in the form view: select
    // the row (its first cell: the others may be links) and switch view
    async openRow(text) {
        const row = this.tab.locator('tr', { hasText: text }).first();
        await row.locator('td').first().click();
        await this.toolbar('switch_');
        await this.idle(800);
    }

    async rows() {
        return this.tab.locator('table.tree tbody tr:visible, '
            + '.treeview tbody tr:visible').allInnerTexts();
    }
}

module.exports = { Sao };
