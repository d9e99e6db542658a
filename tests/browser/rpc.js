// Tryton JSON-RPC and mini-program API clients for the test set-up and the
// checks behind what the pages show.
'use strict';

class Rpc {
    constructor(server, login, password) {
        this.url = `${server.url}${server.name}/rpc/`;
        this.login = login;
        this.password = password;
        this.id = 0;
        this.context = {};
    }

    async call(method, params) {
        const headers = { 'Content-Type': 'application/json' };
        if (this.session) {
            headers.Authorization = 'Session ' + Buffer.from(
                `${this.login}:${this.userId}:${this.session}`)
                .toString('base64');
        }
        const response = await fetch(this.url, {
            method: 'POST', headers,
            body: JSON.stringify({ id: ++this.id, method, params }),
        });
        const body = await response.json();
        if (body.error) {
            throw new Error(`${method}: ${JSON.stringify(body.error)}`);
        }
        return body.result;
    }

    async connect() {
        const [userId, session] = await this.call('common.db.login',
            [this.login, { password: this.password }, 'en']);
        this.userId = userId;
        this.session = session;
        this.context = await this.call('model.res.user.get_preferences',
            [true, {}]);
        return this;
    }

    model(name, method, ...args) {
        return this.call(`model.${name}.${method}`, [...args, this.context]);
    }

    search(name, domain, fields = ['id'], order = null) {
        return this.model(name, 'search_read', domain, 0, null, order, fields);
    }

    // ir.model.data is not readable through RPC: groups go by name
    async group(name) {
        const [group] = await this.search('res.group', [['name', '=', name]]);
        if (!group) throw new Error(`no group ${name}`);
        return group.id;
    }
}

class Api {
    constructor(server) {
        this.base = server.api;
    }

    async request(method, path, { body, token, language } = {}) {
        const headers = { 'Content-Type': 'application/json' };
        if (token) headers.Authorization = `Bearer ${token}`;
        if (language) headers['Accept-Language'] = language;
        const response = await fetch(this.base + path, {
            method, headers,
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await response.text();
        let data;
        try { data = JSON.parse(text); } catch (e) { data = text; }
        return { status: response.status, data };
    }

    async ok(method, path, options) {
        const { status, data } = await this.request(method, path, options);
        if (status >= 300) {
            throw new Error(`${method} ${path}: ${status} ${JSON.stringify(data)}`);
        }
        return data;
    }
}

module.exports = { Rpc, Api };
