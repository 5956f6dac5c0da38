// Runs handover-doctor's Cognigy assets the way Cognigy does, for tests/it/cognigy.rs.
//
//   node sandbox.js transformer  < {"transformer", "url", "secret", "outputs": [...]}
//   node sandbox.js render       < {"payload", "input", "context"}
//
// `transformer` pastes integrations/cognigy/transformer.js with its two settings edited, as
// a user would, into a fresh VM context that holds what Cognigy's transformer sandbox
// documents (createSocketTransformer, crypto, httpRequest with the npm `request` options,
// console) and runs handleOutput on each output, printing what it returned, how long it took
// and the status of each request it made. `render` evaluates a JSON payload's CognigyScript as
// the HTTP Request node documents it: "{{expr}}" inline (a value that does not exist skips
// the key; an object becomes "[object Object]") and {"$cs": {"script", "type"}} (typed).
"use strict";

const fs = require("fs");
const vm = require("vm");
const http = require("http");
const https = require("https");
const nodeCrypto = require("crypto");

function readStdin() {
    return JSON.parse(fs.readFileSync(0, "utf8"));
}

// The npm `request` options Cognigy documents for httpRequest: uri, method, headers, body,
// json, timeout. Like request-promise, it rejects on a non-2xx answer.
function makeHttpRequest(log) {
    return (options) => new Promise((resolve, reject) => {
        const url = new URL(options.uri || options.url);
        const body = typeof options.body === "string" || options.body === undefined
            ? options.body
            : JSON.stringify(options.body);
        const lib = url.protocol === "https:" ? https : http;
        const entry = { uri: url.pathname, status: null, error: null };
        log.push(entry);
        const req = lib.request(url, {
            method: options.method || "GET",
            headers: Object.assign({}, options.headers || {},
                body === undefined ? {} : { "Content-Length": Buffer.byteLength(body) }),
            timeout: options.timeout
        }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c) => { text += c; });
            res.on("end", () => {
                entry.status = res.statusCode;
                entry.body = text;
                if (res.statusCode >= 200 && res.statusCode < 300) {
                    resolve(options.json ? JSON.parse(text || "null") : text);
                } else {
                    reject(new Error("StatusCodeError: " + res.statusCode));
                }
            });
        });
        req.on("timeout", () => req.destroy(new Error("ESOCKETTIMEDOUT")));
        req.on("error", (e) => { entry.error = e.message; reject(e); });
        if (body !== undefined) {
            req.write(body);
        }
        req.end();
    });
}

async function runTransformer(job) {
    let source = fs.readFileSync(job.transformer, "utf8");
    // Edit the two settings as the README tells a user to.
    const urlLine = /^const HANDOVER_DOCTOR_URL = ".*";$/m;
    const secretLine = /^const HANDOVER_DOCTOR_SECRET = ".*";$/m;
    if (!urlLine.test(source) || !secretLine.test(source)) {
        throw new Error("transformer.js must declare HANDOVER_DOCTOR_URL and HANDOVER_DOCTOR_SECRET on their own lines");
    }
    source = source
        .replace(urlLine, "const HANDOVER_DOCTOR_URL = " + JSON.stringify(job.url) + ";")
        .replace(secretLine, "const HANDOVER_DOCTOR_SECRET = " + JSON.stringify(job.secret) + ";");
    const requests = [];
    let transformer = null;
    const sandbox = {
        createSocketTransformer: (t) => { transformer = t; return t; },
        crypto: nodeCrypto,
        httpRequest: makeHttpRequest(requests),
        console: { log: () => {}, info: () => {}, error: (m) => process.stderr.write(String(m) + "\n") },
        setTimeout, clearTimeout
    };
    vm.runInNewContext(source, sandbox, { filename: "transformer.js" });
    if (!transformer || typeof transformer.handleOutput !== "function") {
        throw new Error("transformer.js did not call createSocketTransformer({handleOutput})");
    }
    const results = [];
    for (const o of job.outputs) {
        requests.length = 0;
        const started = Date.now();
        let returned;
        let threw = null;
        try {
            returned = await transformer.handleOutput({
                processedOutput: o.processedOutput,
                output: o.output,
                endpoint: o.endpoint || { channel: "voiceGateway2" },
                userId: o.userId || "user-1",
                sessionId: o.sessionId
            });
        } catch (e) {
            threw = String(e && e.message ? e.message : e);
        }
        results.push({
            returned: returned === undefined ? null : returned,
            threw,
            elapsedMs: Date.now() - started,
            requests: requests.map((r) => ({ uri: r.uri, status: r.status, error: r.error, body: r.body }))
        });
    }
    return results;
}

function evaluate(script, scope) {
    try {
        const f = new Function("input", "context", "profile", "ci", "cc", "cp",
            "return (" + script + ");");
        return f(scope.input, scope.context, scope.profile, scope.input, scope.context, scope.profile);
    } catch (e) {
        return undefined;
    }
}

const SKIP = Symbol("skip");

function renderValue(v, scope) {
    if (typeof v === "string") {
        const whole = /^\{\{([^{}]*)\}\}$/.exec(v);
        if (whole) {
            const value = evaluate(whole[1], scope);
            return value === undefined || value === null ? SKIP : String(value);
        }
        return v.replace(/\{\{([^{}]*)\}\}/g, (_, e) => {
            const value = evaluate(e, scope);
            return value === undefined || value === null ? "" : String(value);
        });
    }
    if (Array.isArray(v)) {
        return v.map((x) => renderValue(x, scope)).filter((x) => x !== SKIP);
    }
    if (v && typeof v === "object") {
        if (v.$cs && typeof v.$cs === "object" && Object.keys(v).length === 1) {
            const value = evaluate(v.$cs.script, scope);
            if (value === undefined || value === null) {
                return SKIP;
            }
            switch (v.$cs.type) {
                case "string": return typeof value === "object" ? JSON.stringify(value) : String(value);
                case "number": return Number(value);
                default: return value;
            }
        }
        const out = {};
        for (const [k, x] of Object.entries(v)) {
            const r = renderValue(x, scope);
            if (r !== SKIP) {
                out[k] = r;
            }
        }
        return out;
    }
    return v;
}

async function main() {
    const mode = process.argv[2];
    const job = readStdin();
    let result;
    if (mode === "transformer") {
        result = await runTransformer(job);
    } else if (mode === "render") {
        const template = typeof job.payload === "string"
            ? JSON.parse(fs.readFileSync(job.payload, "utf8"))
            : job.template;
        result = renderValue(template, { input: job.input || {}, context: job.context || {}, profile: {} });
    } else {
        throw new Error("usage: node sandbox.js transformer|render < job.json");
    }
    process.stdout.write(JSON.stringify(result));
}

main().catch((e) => {
    process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
    process.exit(2);
});
