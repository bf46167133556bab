-- 0016: a delivery to an endpoint that was disabled (it answered 410
-- Gone) is disabled when it is written, and an endpoint's waiting
-- deliveries when the endpoint is disabled — by these triggers — instead
-- of by a sweep in every claim of the deliverer, which walked every due
-- delivery under the store's write lock (31 ms per claim at 100,000 due,
-- 106 ms with an endpoint disabled).
CREATE TRIGGER webhook_to_a_disabled_endpoint AFTER INSERT ON webhook_deliveries
WHEN new.status = 'pending' AND EXISTS
    (SELECT 1 FROM webhook_endpoints_disabled e WHERE e.account_id = new.account_id
     AND e.url = new.url)
BEGIN
    UPDATE webhook_deliveries SET status = 'disabled', finished_ms = new.created_ms,
        last_error = 'the endpoint was disabled (it answered 410 Gone)'
    WHERE id = new.id;
END;
CREATE TRIGGER webhook_endpoint_disabled AFTER INSERT ON webhook_endpoints_disabled
BEGIN
    UPDATE webhook_deliveries SET status = 'disabled', finished_ms = new.disabled_ms,
        last_error = 'the endpoint was disabled (it answered 410 Gone)'
    WHERE account_id = new.account_id AND url = new.url AND status = 'pending';
END;
-- What the claims' sweep would have found: deliveries already waiting for
-- an endpoint disabled before this migration.
UPDATE webhook_deliveries SET status = 'disabled',
    last_error = 'the endpoint was disabled (it answered 410 Gone)',
    finished_ms = (SELECT e.disabled_ms FROM webhook_endpoints_disabled e
                   WHERE e.account_id = webhook_deliveries.account_id
                   AND e.url = webhook_deliveries.url)
WHERE status = 'pending' AND EXISTS
    (SELECT 1 FROM webhook_endpoints_disabled e WHERE e.account_id = webhook_deliveries.account_id
     AND e.url = webhook_deliveries.url);
