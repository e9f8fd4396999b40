-- The per-buyer features (schemas/avro/features/buyer/v1.avsc) as a serving table, their
-- append-only history, and the sink's progress per topic partition.
--
-- Columns: every field of BuyerFeatures (Avro long -> bigint, int -> integer, double ->
-- double precision, string -> text, timestamp-millis -> timestamptz, array<string> ->
-- text[]; a field whose type is a union with null is nullable), then
--   event_timestamp    = as_of, the time the row is valid as of (Feast's timestamp_field)
--   created_timestamp  = the Kafka message timestamp, when stage 2 wrote this version
--   kafka_partition, kafka_offset: where the version was read, its identity and order.

CREATE TABLE buyer_features (
    shop_id                     text             NOT NULL,
    buyer_pseudonym             text             NOT NULL,
    pseudonym_key_id            text             NOT NULL,
    feature_version             integer          NOT NULL,
    as_of                       timestamptz      NOT NULL,
    events                      bigint           NOT NULL,
    age_band                    text,
    gender                      text,
    region                      text,
    signup_channel              text,
    signup_time                 timestamptz,
    days_since_signup           integer,
    visits_total                bigint           NOT NULL,
    visits_7d                   integer          NOT NULL,
    visits_30d                  integer          NOT NULL,
    visits_90d                  integer          NOT NULL,
    sessions_total              bigint           NOT NULL,
    dwell_ms_total              bigint           NOT NULL,
    mean_session_dwell_ms       double precision,
    last_visit_time             timestamptz,
    visits_pc                   bigint           NOT NULL,
    visits_mobile               bigint           NOT NULL,
    visits_tablet               bigint           NOT NULL,
    visits_app                  bigint           NOT NULL,
    visits_other_device         bigint           NOT NULL,
    currency                    text             NOT NULL,
    orders                      bigint           NOT NULL,
    orders_7d                   integer          NOT NULL,
    orders_30d                  integer          NOT NULL,
    orders_90d                  integer          NOT NULL,
    gross_spend                 bigint           NOT NULL,
    cancelled_amount            bigint           NOT NULL,
    refunded_amount             bigint           NOT NULL,
    spend                       bigint           NOT NULL,
    average_order_value         double precision,
    first_purchase_time         timestamptz,
    last_purchase_time          timestamptz,
    recency_days                integer,
    items                       bigint           NOT NULL,
    distinct_categories         integer          NOT NULL,
    top_categories              text[]           NOT NULL,
    list_amount                 bigint           NOT NULL,
    discount_amount             bigint           NOT NULL,
    discount_share              double precision,
    cancellations               bigint           NOT NULL,
    refunds                     bigint           NOT NULL,
    foreign_currency_purchases  bigint           NOT NULL,
    reviews                     bigint           NOT NULL,
    rating_sum                  bigint           NOT NULL,
    mean_rating                 double precision,
    last_review_time            timestamptz,
    conversion                  double precision,
    event_timestamp             timestamptz      NOT NULL,
    created_timestamp           timestamptz,
    kafka_partition             integer          NOT NULL,
    kafka_offset                bigint           NOT NULL,
    PRIMARY KEY (shop_id, buyer_pseudonym)
);

-- Same columns; one row per version read, once (the key makes a replay a no-op).
CREATE TABLE buyer_features_history (LIKE buyer_features INCLUDING ALL);
ALTER TABLE buyer_features_history DROP CONSTRAINT buyer_features_history_pkey;
ALTER TABLE buyer_features_history
    ADD PRIMARY KEY (shop_id, buyer_pseudonym, kafka_partition, kafka_offset);
-- Point-in-time look-ups: a buyer's latest version at or before a time.
CREATE INDEX buyer_features_history_as_of
    ON buyer_features_history (shop_id, buyer_pseudonym, event_timestamp);

-- Where each partition stands: the next offset to read. Written in the same transaction
-- as the rows of each batch, so it never claims a row that is not there, nor misses one.
CREATE TABLE shopstream_sink_progress (
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
