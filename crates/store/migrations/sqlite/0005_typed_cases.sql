-- Cases become queryable: typology, money at risk, who reported and who holds, when they
-- closed and which earlier case they follow are columns, not fields inside the JSON body.
-- Existing rows are filled in from their bodies and reports.

ALTER TABLE fraud_case ADD COLUMN typology TEXT;
ALTER TABLE fraud_case ADD COLUMN money_at_risk INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fraud_case ADD COLUMN reporting TEXT NOT NULL DEFAULT '[]';
ALTER TABLE fraud_case ADD COLUMN holding TEXT NOT NULL DEFAULT '[]';
ALTER TABLE fraud_case ADD COLUMN linked_case INTEGER;
ALTER TABLE fraud_case ADD COLUMN closed_ms INTEGER;

UPDATE fraud_case SET
    money_at_risk = COALESCE(json_extract(body, '$.amount'), 0),
    closed_ms = CASE WHEN state = 'closed' THEN updated_ms END,
    reporting = COALESCE(
        (SELECT json_group_array(source) FROM (SELECT DISTINCT source FROM report WHERE case_id = fraud_case.id)),
        '[]');

CREATE INDEX case_by_typology ON fraud_case (typology, opened_ms);
CREATE INDEX case_by_opened ON fraud_case (opened_ms);
