#!/usr/bin/env node
// The browser tests: sao, the kiosk page and the live dashboard in Debian's
// Chromium, driven by playwright-core, against a trytond of their own with a
// fresh demo database.  Prints one line per test and "N passed, N failed".
//   node tests/browser/run.js [--summary FILE] [--keep-db] [FILTER]
// FILTER is a part of the flows' names or a regular expression.
// SCREENSHOTS=1 writes the user guide images doc/images/guide-*.png.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const server = require('./server');
const { flows } = require('./flows');

const ROOT = server.ROOT;
const args = process.argv.slice(2);
const option = (name) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const [, value] = args.splice(i, 2);
    return value;
};
const summaryFile = option('--summary');
const keepDb = args.includes('--keep-db') && args.splice(args.indexOf('--keep-db'), 1);
const filter = args[0];
const DB = process.env.BROWSER_DB || 'browser';
const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';
const FAILURES = path.join(ROOT, 'var', 'browser-failures');
const log = (...a) => console.log('  ', ...a);

async function main() {
    const started = Date.now();
    let passed = 0;
    let failed = 0;
    const failures = [];
    let srv;
    let browser;
    try {
        srv = await server.start({ name: DB, fresh: !keepDb, log });
        browser = await chromium.launch({
            executablePath: EXECUTABLE,
            args: ['--no-sandbox', '--disable-gpu', '--lang=en-US'],
        });
        const ctx = { server: srv, browser, log, state: {}, keepDb: !!keepDb,
            screenshots: process.env.SCREENSHOTS === '1' };
        fs.rmSync(FAILURES, { recursive: true, force: true });
        for (const flow of flows) {
            if (filter && !flow.name.includes(filter)
                && !new RegExp(filter).test(flow.name)) continue;
            const t0 = Date.now();
            const pages = [];
            ctx.newPage = async (options = {}) => {
                const context = await browser.newContext({
                    viewport: options.viewport || { width: 1600, height: 900 },
                    locale: options.locale || 'en-US',
                    timezoneId: 'Asia/Shanghai',
                });
                context.setDefaultTimeout(60000);
                const page = await context.newPage();
                pages.push(page);
                return page;
            };
            try {
                const missing = (flow.needs || []).filter((k) => !(k in ctx.state));
                if (missing.length) {
                    throw new Error(`needs ${missing.join(', ')} from an earlier flow`);
                }
                await withTimeout(flow.run(ctx), flow.timeout || 300000);
                passed++;
                console.log(`ok ${passed + failed} - ${flow.name} (${secs(t0)} s)`);
            } catch (e) {
                failed++;
                failures.push(flow.name);
                console.log(`not ok ${passed + failed} - ${flow.name} (${secs(t0)} s)`);
                console.log(String(e && e.stack || e).split('\n').slice(0, 8)
                    .map((l) => '    # ' + l).join('\n'));
                fs.mkdirSync(FAILURES, { recursive: true });
                for (const [i, page] of pages.entries()) {
                    const file = path.join(FAILURES,
                        `${flow.name.replace(/\W+/g, '-')}-${i}.png`);
                    await page.screenshot({ path: file }).catch(() => {});
                    console.log(`    # screenshot: ${path.relative(ROOT, file)}`);
                }
            } finally {
                for (const page of pages) {
                    await page.context().close().catch(() => {});
                }
            }
        }
    } catch (e) {
        failed++;
        failures.push('set-up');
        console.log(`not ok - set-up: ${e && e.stack || e}`);
    } finally {
        if (browser) await browser.close().catch(() => {});
        if (srv) srv.stop();
    }
    console.log(`browser tests: ${secs(started)} s`);
    console.log(`${passed} passed, ${failed} failed`);
    if (summaryFile) {
        fs.writeFileSync(summaryFile, JSON.stringify(
            { passed, failed, skipped: 0, failures }));
    }
    process.exitCode = failed ? 1 : 0;
}

function secs(t0) {
    return Math.round((Date.now() - t0) / 100) / 10;
}

function withTimeout(promise, ms) {
    let timer;
    return Promise.race([promise, new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s`)), ms);
    })]).finally(() => clearTimeout(timer));
}

main();
