const HANDOVER_DOCTOR_URL = "https://handover-doctor.example.com/webhooks/cognigy/handover";
const HANDOVER_DOCTOR_SECRET = "change-me";

// handover-doctor's Output Transformer for a Voice Gateway endpoint (paste it whole into the
// endpoint's Transformer editor and enable the Output Transformer; edit only the two lines
// above). It uses only what Cognigy's transformer sandbox provides: crypto and httpRequest.
//
// (a) A flow output whose data is {"_handoverFailure": {...event...}} is sent to
//     handover-doctor, signed (X-Cognigy-Timestamp / X-Cognigy-Signature), and not spoken.
// (b) The CXone extension's own failure output ("Something is not working. Please retry.",
//     data {"error": "<message>"}; "handoverToCXone Error: ..." for a missing action) is
//     reported by itself, with conversationId = the session id, and still reaches the caller:
//     in the extension versions that throw (v1.0.9, v1.0.11, v1.2.1) the flow stops after it,
//     so no node after Exit Interaction can report it.
// (c) Every other output passes through untouched.
// (d) It never throws, and waits at most REQUEST_TIMEOUT_MS for handover-doctor.

const REQUEST_TIMEOUT_MS = 3000;
const EXTENSION_FAILURE_TEXT = "Something is not working. Please retry.";
const EXTENSION_CONFIG_ERROR = /^(handoverToCXone|sendSignalToCXone) Error: /;

// The Cognigy HMAC scheme: hex HMAC-SHA256 over "<unix seconds>.<exact body bytes>".
function signedRequest(event) {
    const body = JSON.stringify(event);
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const signature = crypto
        .createHmac("sha256", HANDOVER_DOCTOR_SECRET)
        .update(timestamp + "." + body)
        .digest("hex");
    return {
        uri: HANDOVER_DOCTOR_URL,
        method: "POST",
        headers: {
            "Content-Type": "application/json",
            "X-Cognigy-Timestamp": timestamp,
            "X-Cognigy-Signature": "sha256=" + signature
        },
        // A string, so the bytes sent are the bytes signed.
        body: body,
        json: false,
        timeout: REQUEST_TIMEOUT_MS
    };
}

// Sends an event; resolves whatever happens, never later than the timeout.
async function report(event) {
    try {
        const sent = httpRequest(signedRequest(event));
        const bounded = typeof setTimeout === "function"
            ? Promise.race([sent, new Promise((resolve) => setTimeout(resolve, REQUEST_TIMEOUT_MS))])
            : sent;
        await bounded;
    } catch (err) {
        // An unreachable handover-doctor must never break the conversation.
        console.error("handover-doctor: report not sent: " + (err && err.message ? err.message : err));
    }
}

// The extension's failure output as an event, or null when the output is something else.
function extensionFailure(output, sessionId, endpoint) {
    const text = output && typeof output.text === "string" ? output.text.trim() : "";
    const data = output ? output.data : null;
    const error = data && typeof data.error === "string" ? data.error.trim() : "";
    let message;
    if (text === EXTENSION_FAILURE_TEXT) {
        // v1.2.1 outputs no reason (data null): report the text, which says as much.
        message = error || text;
    } else if (EXTENSION_CONFIG_ERROR.test(text) && error) {
        // The same words the node throws next ("handoverToCXone: Missing Action parameter").
        message = text.slice(0, text.indexOf(" Error: ")) + ": " + error;
    } else {
        return null;
    }
    const now = new Date();
    const event = {
        eventId: sessionId + ":extension:" + now.getTime(),
        occurredAt: now.toISOString(),
        conversationId: sessionId,
        handover: { mechanism: "cxone_signal", extensionError: message }
    };
    const channel = endpoint && typeof endpoint.channel === "string" ? endpoint.channel : "";
    if (channel) {
        event.flow = { endpointType: channel };
    }
    return event;
}

createSocketTransformer({
    handleOutput: async ({ processedOutput, output, endpoint, userId, sessionId }) => {
        try {
            const data = output ? output.data : null;
            const flowEvent = data && typeof data === "object" ? data._handoverFailure : undefined;
            if (flowEvent && typeof flowEvent === "object") {
                const event = Object.assign({}, flowEvent);
                if (!event.conversationId) {
                    event.conversationId = sessionId;
                }
                await report(event);
                // The report is for handover-doctor, not for the caller.
                return null;
            }
            const failure = extensionFailure(output, sessionId, endpoint);
            if (failure) {
                await report(failure);
            }
        } catch (err) {
            console.error("handover-doctor: transformer error: " + (err && err.message ? err.message : err));
        }
        return processedOutput;
    }
});
