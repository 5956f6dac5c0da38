//! What a SIP final status means for a Voice Gateway transfer, in the words an operator
//! needs (Cognigy's VG SIP response-code table, `shared/domain/cognigy.md` section 2.2).

/// One phrase explaining a SIP status for a failed transfer.
pub fn sip_meaning(status: u16) -> &'static str {
    match status {
        400 => "the transfer's SIP request was malformed (check custom SIP headers)",
        401 | 407 => "the carrier or SBC wants credentials for the outbound leg",
        403 => "the carrier rejected the caller id",
        404 => "wrong transfer target, or the number is not set up",
        408 => "timeout: the target or the network did not answer in time",
        480 => "temporarily unavailable: no application attached to the target, or no capacity",
        484 => "the target number is incomplete",
        486 => "the target was busy",
        487 => "nobody answered before the transfer timeout (NO_ANSWER)",
        488 => "codec or SDP mismatch between Voice Gateway and the target",
        500 => "server error at the target or the SBC",
        502 => "a proxy on the way to the target failed",
        503 => "Voice Gateway account inactive or call limit (capacity) reached",
        600 => "the target was busy everywhere",
        603 => "the target declined the call (or the VG endpoint is unreachable)",
        604 => "the target number does not exist anywhere",
        s if (200..300).contains(&s) => "success",
        s if (300..400).contains(&s) => "the target redirected the call",
        s if (400..500).contains(&s) => "client error: the target refused the request",
        s if (500..600).contains(&s) => "server error on the way to the target",
        s if (600..700).contains(&s) => "global failure: the target refused the call",
        _ => "not a SIP final status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statuses_the_contract_names_have_their_own_meaning() {
        assert!(sip_meaning(403).contains("caller id"));
        assert!(sip_meaning(404).contains("target"));
        assert!(sip_meaning(408).contains("timeout"));
        assert!(sip_meaning(480).contains("capacity"));
        assert!(sip_meaning(486).contains("busy"));
        assert!(sip_meaning(600).contains("busy"));
        assert!(sip_meaning(603).contains("declined"));
        assert!(sip_meaning(487).contains("nobody answered"));
        assert!(sip_meaning(488).contains("codec"));
        assert!(sip_meaning(503).contains("capacity"));
    }

    #[test]
    fn other_statuses_fall_back_to_their_class() {
        assert!(sip_meaning(415).contains("client error"));
        assert!(sip_meaning(599).contains("server error"));
        assert_eq!(sip_meaning(42), "not a SIP final status");
    }
}
