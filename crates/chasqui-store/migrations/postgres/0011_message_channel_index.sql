-- SQLite's migration 0011 adds messages_tenant_channel (tenant_id, channel_id, id), the index
-- its queries walk for one channel's messages in id order. PostgreSQL deliberately does not
-- get it. Its planner, which has statistics, already reads a channel's messages quickly
-- (through the primary key or messages_tenant). Given this index, it intersects the
-- channel's whole id range with the text-search matches (a BitmapAnd over about 90,000
-- entries at 1 M messages). That made the benchmark's combined filter 26 ms instead of 5 ms.
-- This migration only keeps the numbering in step.
SELECT 1;
