import { defineMailModels, startServer } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, destroy, expect, test } from "@odoo/hoot";
import { queryAllTexts } from "@odoo/hoot-dom";
import { mockDate } from "@odoo/hoot-mock";
import {
    contains,
    defineModels,
    fields,
    models,
    mountView,
    onRpc,
    patchWithCleanup,
    serverState,
    toggleMenuItem,
    toggleSearchBarMenu,
} from "@web/../tests/web_test_helpers";
import { session } from "@web/session";

/**
 * The Calls Report's table (static/src/calls_report/calls_report.js) asks
 * the server for all the groupings of one load in a single
 * `read_group_batch`; the server answers each grouping as
 * `read_group(lazy=False)` would (tests/test_calls_report.py holds it to
 * that). Here: one request per load, and the same table as stock Odoo's.
 */

const HOURS = Array.from({ length: 24 }, (_, h) => [String(h).padStart(2, "0"), `${h}:00`]);

class PbxCall extends models.Model {
    _name = "pbx.call";

    start = fields.Datetime({ string: "Date Time" });
    start_hour = fields.Selection({ string: "Hour of Day", selection: HOURS });
    direction = fields.Selection({
        string: "Call Type",
        selection: [
            ["incoming", "Incoming"],
            ["outgoing", "Outgoing"],
            ["internal", "Internal"],
        ],
    });
    user_id = fields.Many2one({ string: "Admin", relation: "res.users" });
    // Averages in the report; the mock server adds integers up whatever
    // their aggregator, the same way for both tables compared here.
    talk_seconds = fields.Integer({ string: "Call Duration", aggregator: "avg" });
    wait_seconds = fields.Integer({ string: "Wait Time", aggregator: "avg" });

    /** The server's contract: read_group(lazy=False) for each grouping. */
    read_group_batch(domain, fields, groupbys) {
        return groupbys.map((groupby) =>
            this.read_group(domain, fields, groupby, 0, false, false, false)
        );
    }
}

describe.current.tags("desktop");
defineMailModels();
defineModels([PbxCall]);

// The server's switch (clinic_pbx.report_batch), on unless a test turns it off.
beforeEach(() => patchWithCleanup(session, { clinic_pbx_report_batch: true }));

const REPORT_ARCH = /* xml */ `
    <pivot js_class="pbx_calls_report_pivot" display_quantity="1" sample="1">
        <field name="start" interval="day" type="row"/>
        <field name="direction" type="col"/>
        <field name="talk_seconds" type="measure" widget="pbx_duration"/>
        <field name="wait_seconds" type="measure" widget="pbx_duration"/>
    </pivot>`;
const SEARCH_ARCH = /* xml */ `
    <search>
        <filter name="filter_start" string="Date Time" date="start" default_period="month"/>
        <filter name="groupby_admin" string="Admin" context="{'group_by': 'user_id'}"/>
        <filter name="groupby_day" string="Day" context="{'group_by': 'start:day'}"/>
        <filter name="groupby_hour" string="Hour of Day" context="{'group_by': 'start_hour'}"/>
        <filter name="groupby_month" string="Month" context="{'group_by': 'start:month'}"/>
    </search>`;

/**
 * Calls of early March 2026 taken by two admins or by nobody, and two of
 * February (`withFebruary`), for the comparison with the previous month.
 */
async function createCalls({ withFebruary = false } = {}) {
    const pyEnv = await startServer();
    const annaPartner = pyEnv["res.partner"].create({ name: "Anna Ivanova" });
    const anna = pyEnv["res.users"].create({ name: "Anna Ivanova", partner_id: annaPartner });
    const me = serverState.userId;
    const call = (start, direction, user_id, talk_seconds, wait_seconds) => ({
        start,
        start_hour: start.slice(11, 13),
        direction,
        user_id,
        talk_seconds,
        wait_seconds,
    });
    pyEnv["pbx.call"].create([
        call("2026-03-02 07:10:00", "incoming", anna, 60, 5),
        call("2026-03-02 08:20:00", "incoming", anna, 120, 15),
        call("2026-03-02 09:30:00", "outgoing", me, 30, 0),
        call("2026-03-03 07:40:00", "incoming", me, 90, 25),
        call("2026-03-03 10:50:00", "internal", anna, 10, 2),
        call("2026-03-04 11:00:00", "incoming", false, 0, 40),
    ]);
    if (withFebruary) {
        pyEnv["pbx.call"].create([
            call("2026-02-10 07:00:00", "incoming", me, 45, 3),
            call("2026-02-11 08:00:00", "outgoing", false, 15, 0),
        ]);
    }
}

function stepGroupRequests() {
    onRpc("pbx.call", "read_group_batch", ({ args }) => {
        expect.step(`read_group_batch (${args[2].length} groupings)`);
    });
    onRpc("pbx.call", "read_group", () => {
        expect.step("read_group");
    });
}

/** Every header and cell of the table, as the manager reads them. */
function tableTexts() {
    return queryAllTexts(".o_pivot table th, .o_pivot table td");
}

/**
 * The table of the report, then of stock Odoo's pivot view of the same arch
 * (after `prepare`, e.g. a comparison chosen in the search panel).
 */
async function reportAndStock(arch, { context = {}, prepare = async () => {} } = {}) {
    const texts = {};
    for (const [name, viewArch, viewId] of [
        ["report", arch, -1],
        ["stock", arch.replace('js_class="pbx_calls_report_pivot"', ""), -2],
    ]) {
        const view = await mountView({
            type: "pivot",
            resModel: "pbx.call",
            arch: viewArch,
            viewId,
            searchViewArch: SEARCH_ARCH,
            context,
        });
        await prepare();
        texts[name] = tableTexts();
        destroy(view);
    }
    return texts;
}

test("the table loads with one read_group_batch request", async () => {
    await createCalls();
    stepGroupRequests();
    await mountView({
        type: "pivot",
        resModel: "pbx.call",
        arch: REPORT_ARCH,
        searchViewArch: SEARCH_ARCH,
    });
    // Total, days, types, days by type.
    expect.verifySteps(["read_group_batch (4 groupings)"]);
    // The Total row: Count, Call Duration and Wait Time per call type, then
    // for all calls; its counts are 4 incoming, 1 outgoing, 1 internal, 6.
    const total = queryAllTexts(".o_pivot table tbody tr:first-child td");
    expect([total[0], total[3], total[6], total[9]]).toEqual(["4", "1", "1", "6"]);

    // Another grouping of the report: one request again.
    await contains(`.o_pbx_report_groupings button[data-grouping="employees_days"]`).click();
    expect.verifySteps(["read_group_batch (6 groupings)"]);
    expect(".o_pbx_report_groupings button.active").toHaveAttribute(
        "data-grouping",
        "employees_days"
    );
    expect(queryAllTexts(".o_pivot table tbody th")).toEqual([
        "Total",
        "Mitchell Admin",
        "2026-03-02",
        "2026-03-03",
        "Anna Ivanova",
        "2026-03-02",
        "2026-03-03",
        "None",
        "2026-03-04",
    ]);

    // Opening a row by another field: one request for the new rows.
    await contains("tbody .o_pivot_header_cell_closed:first").click();
    await contains(".o-dropdown--menu .o-dropdown-item:contains(Hour of Day)").click();
    expect.verifySteps(["read_group_batch (2 groupings)"]);
    expect(queryAllTexts(".o_pivot table tbody th").slice(0, 4)).toEqual([
        "Total",
        "Mitchell Admin",
        "2026-03-02",
        "9:00",
    ]);
});

test("the table shows what stock read_group gives", async () => {
    await createCalls();
    stepGroupRequests();
    const texts = await reportAndStock(REPORT_ARCH);
    // Stock Odoo asks once per grouping.
    expect.verifySteps([
        "read_group_batch (4 groupings)",
        "read_group",
        "read_group",
        "read_group",
        "read_group",
    ]);
    expect(texts.report).toInclude("Incoming");
    expect(texts.report).toEqual(texts.stock);
});

test("by employees and days, the table shows what stock read_group gives", async () => {
    await createCalls();
    const arch = REPORT_ARCH.replace(
        `<field name="start" interval="day" type="row"/>`,
        `<field name="user_id" type="row"/><field name="start" interval="day" type="row"/>`
    );
    const texts = await reportAndStock(arch);
    expect(texts.report).toInclude("Anna Ivanova");
    expect(texts.report).toEqual(texts.stock);
});

test("compared with the previous month, the table shows what stock read_group gives", async () => {
    await createCalls({ withFebruary: true });
    mockDate("2026-03-20 10:00:00");
    onRpc("pbx.call", "read_group_batch", ({ args }) => {
        expect.step(`read_group_batch (${args[2].length} groupings)`);
    });
    const texts = await reportAndStock(REPORT_ARCH, {
        context: { search_default_filter_start: 1 },
        async prepare() {
            await toggleSearchBarMenu();
            await toggleMenuItem("Date Time: Previous Period");
        },
    });
    // This month, then one request per period compared.
    expect.verifySteps([
        "read_group_batch (4 groupings)",
        "read_group_batch (4 groupings)",
        "read_group_batch (4 groupings)",
    ]);
    expect(texts.report).toInclude("February 2026");
    expect(texts.report).toEqual(texts.stock);
});

test("with no calls, the sample table comes from Odoo's sample data", async () => {
    stepGroupRequests();
    await mountView({
        type: "pivot",
        resModel: "pbx.call",
        arch: REPORT_ARCH,
        searchViewArch: SEARCH_ARCH,
    });
    // The real (empty) answer, then sample rows that never reach the server.
    expect.verifySteps(["read_group_batch (4 groupings)"]);
    expect(".o_pivot_view .o_content").toHaveClass("o_view_sample_data");
    expect(".o_pivot table tbody tr").not.toHaveCount(0);
});

test("with the server's switch off, the table loads as stock Odoo's", async () => {
    patchWithCleanup(session, { clinic_pbx_report_batch: false });
    await createCalls();
    stepGroupRequests();
    const texts = await reportAndStock(REPORT_ARCH);
    // No batch: one read_group per grouping, for the report as for stock.
    expect.verifySteps([
        "read_group",
        "read_group",
        "read_group",
        "read_group",
        "read_group",
        "read_group",
        "read_group",
        "read_group",
    ]);
    expect(texts.report).toEqual(texts.stock);
});
