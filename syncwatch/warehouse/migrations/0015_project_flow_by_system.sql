-- A project event with no target system (the system's own event, no extensions) belongs to the flow of the system
-- that sent it: the ERP's own project events are psa-to-erp-projects, as the same events with `targetsystem: erp`
-- are. Before, such an event fell to crm-to-psa-projects, and the psa-to-erp-projects flow read as silent for a
-- firm whose systems send no extensions. The sender's system is its `sourcesystem` extension or, since the
-- collector infers it, the system its `source` prefix names (SYNCWATCH_SOURCE_SYSTEMS).
--
-- The expression applies to events stored from now on; stored events keep the flow they were given.
ALTER TABLE events MODIFY COLUMN flow LowCardinality(String) MATERIALIZED
    if(extensions['flow'] != '', extensions['flow'], multiIf(
        canonical_type = 'deal.closed_won', 'crm-deals',
        canonical_type LIKE 'project.%',
            if(target_system = 'erp' OR (target_system = '' AND source_system = 'erp'),
               'psa-to-erp-projects', 'crm-to-psa-projects'),
        canonical_type = 'rate_card.changed', 'psa-rate-cards',
        canonical_type LIKE 'assignment.%', 'psa-to-erp-assignments',
        canonical_type = 'worker.changed', 'hcm-workers',
        canonical_type = 'worker.synced', 'hcm-to-psa-workers',
        canonical_type LIKE 'timesheet.%' OR canonical_type IN ('time_entry.adjusted', 'time_entry.written_off'),
            'psa-timesheets',
        canonical_type LIKE 'time_entry.%', 'psa-to-erp-time',
        canonical_type LIKE 'invoice.%', 'psa-to-erp-invoices',
        canonical_type LIKE 'exception.%', 'exceptions',
        source_system != '' AND target_system != '', concat(source_system, '-to-', target_system),
        'unassigned'));
