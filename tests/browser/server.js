// A trytond of its own for the browser tests: a fresh demo database, a free
// port, stopped (the whole process group) at the end.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function createDatabase(name, log) {
    // scripts/create-db: every module, company, wizard done, demo data
    const started = Date.now();
    const result = spawnSync(path.join(ROOT, 'scripts', 'create-db'),
        [name, '--demo', '--drop'], {
            cwd: ROOT, encoding: 'utf8',
            env: { ...process.env, TRYTONPASSFILE: '' },
            timeout: 15 * 60 * 1000,
        });
    if (result.status !== 0) {
        throw new Error(`scripts/create-db ${name} failed:\n`
            + (result.stdout || '') + (result.stderr || ''));
    }
    log(`database ${name} created in ${
        Math.round((Date.now() - started) / 1000)} s`);
}

function adminPassword(name) {
    return fs.readFileSync(path.join(ROOT, 'var', `${name}.admin`), 'utf8')
        .trim();
}

async function waitPort(port, child, timeout) {
    const end = Date.now() + timeout;
    while (Date.now() < end) {
        if (child.exitCode !== null) {
            throw new Error(`trytond exited with ${child.exitCode}`);
        }
        const ok = await new Promise((resolve) => {
            const sock = net.connect(port, '127.0.0.1');
            sock.on('connect', () => { sock.end(); resolve(true); });
            sock.on('error', () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`trytond did not listen on ${port}`);
}

async function start({ name, fresh = true, log = console.log }) {
    if (fresh || !fs.existsSync(path.join(ROOT, 'var', 'db', `${name}.sqlite`))) {
        createDatabase(name, log);
    }
    const port = await freePort();
    fs.mkdirSync(path.join(ROOT, 'var', 'log'), { recursive: true });
    const logFile = path.join(ROOT, 'var', 'log', `browser-trytond.log`);
    const out = fs.openSync(logFile, 'w');
    // tryton.conf on our own port: a value in the file wins over the
    // environment (TRYTOND_WEB__LISTEN), so the listen line is replaced
    const config = path.join(ROOT, 'var', `${name}-tryton.conf`);
    fs.writeFileSync(config, fs.readFileSync(
        path.join(ROOT, 'tryton.conf'), 'utf8').replace(
        /^listen *=.*$/m, `listen = 127.0.0.1:${port}`));
    // The environment of scripts/demo (scripts/env.sh)
    const child = spawn('bash', ['-c',
        'source scripts/env.sh && exec .venv/bin/trytond -d "$0"', name], {
            cwd: ROOT, detached: true, stdio: ['ignore', out, out],
            env: { ...process.env, TRYTOND_CONFIG: config },
        });
    fs.closeSync(out);
    const server = {
        name, port, child, logFile,
        url: `http://127.0.0.1:${port}/`,
        api: `http://127.0.0.1:${port}/${name}/mp/v1/`,
        adminPassword: adminPassword(name),
        stop() {
            if (child.exitCode === null) {
                try { process.kill(-child.pid, 'SIGTERM'); } catch (e) { /* gone */ }
            }
        },
    };
    try {
        await waitPort(port, child, 120 * 1000);
    } catch (e) {
        server.stop();
        throw new Error(`${e.message}; see ${logFile}`);
    }
    log(`trytond serving ${name} on ${server.url}`);
    return server;
}

module.exports = { start, ROOT };
