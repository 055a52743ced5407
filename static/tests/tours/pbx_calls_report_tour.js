import { registry } from "@web/core/registry";

function grouping(id) {
    return `.o_pbx_report_groupings button[data-grouping=${id}]`;
}

/**
 * A manager opens the Calls Report and goes through its four groupings in
 * the table, then looks at the chart.
 */
registry.category("web_tour.tours").add("clinic_pbx_calls_report_tour", {
    url: "/odoo/action-clinic_pbx.pbx_call_report_action",
    steps: () => [
        {
            content: "The table opens by the days, a column per call type",
            trigger: `.o_pivot_view:has(${grouping("days")}.active) thead th:contains(Incoming)`,
        },
        {
            content: "Each column counts calls and averages their duration",
            trigger: ".o_pivot thead th:contains(Average Call Duration)",
        },
        {
            content: "Group by the hours",
            trigger: grouping("hours"),
            run() {
                window.__pbxRequests = [];
                const open = XMLHttpRequest.prototype.open;
                XMLHttpRequest.prototype.open = function (method, url, ...rest) {
                    window.__pbxRequests.push(String(url));
                    return open.call(this, method, url, ...rest);
                };
                this.anchor.click();
            },
        },
        {
            content: "Rows are hours of the day",
            trigger: `.o_pivot_view:has(${grouping("hours")}.active) tbody th:contains(09:00)`,
        },
        {
            content: "The whole table came in one request",
            trigger: ".o_pivot_view",
            run() {
                const reads = window.__pbxRequests.filter((url) => url.includes("/pbx.call/read_group"));
                if (reads.length !== 1 || !reads[0].endsWith("/read_group_batch")) {
                    throw new Error(`expected one read_group_batch, got ${JSON.stringify(reads)}`);
                }
            },
        },
        {
            content: "Group by the employees and days",
            trigger: grouping("employees_days"),
            run: "click",
        },
        {
            content: "Each admin has a row, calls without admin too",
            trigger: `.o_pivot_view:has(${grouping("employees_days")}.active) tbody th:contains(Report Tour Anna) ~ td`,
        },
        {
            content: "A call nobody took has its own row",
            trigger: ".o_pivot tbody th:contains(None)",
        },
        {
            content: "A cell of the table opens the calls it counts",
            trigger: ".o_pivot tbody tr:has(th:contains(Report Tour Anna)) td.o_pivot_cell_value:first",
            run: "click",
        },
        {
            content: "They are Anna's three answered calls",
            trigger: ".o_list_view:has(.o_data_row:nth-child(3)):not(:has(.o_data_row:nth-child(4))):not(:has(.o_data_row:contains(Missed)))",
        },
        {
            content: "Back to the report",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(Calls Report)",
            run: "click",
        },
        {
            content: "Group by the employees and months",
            trigger: grouping("employees_months"),
            run: "click",
        },
        {
            content: "An admin's months are listed under the admin",
            trigger: `.o_pivot_view:has(${grouping("employees_months")}.active) tbody th.o_pivot_header_cell_closed:contains(2026)`,
        },
        {
            content: "Download the table as xlsx",
            trigger: ".o_pivot_download",
            run() {
                window.__pbxExport = null;
                const open = XMLHttpRequest.prototype.open;
                XMLHttpRequest.prototype.open = function (method, url, ...rest) {
                    if (String(url).includes("/web/pivot/export_xlsx")) {
                        this.addEventListener("load", () => {
                            window.__pbxExport = {
                                status: this.status,
                                type: this.getResponseHeader("Content-Type") || "",
                            };
                        });
                    }
                    return open.call(this, method, url, ...rest);
                };
                this.anchor.click();
            },
        },
        {
            content: "The server answers with a spreadsheet",
            trigger: ".o_pivot_view",
            async run() {
                for (let i = 0; i < 100 && !window.__pbxExport; i++) {
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                const result = window.__pbxExport;
                if (!result || result.status !== 200 || !result.type.includes("spreadsheetml")) {
                    throw new Error(`xlsx export failed: ${JSON.stringify(result)}`);
                }
            },
        },
        {
            content: "Switch to the chart",
            trigger: ".o_switch_view.o_graph",
            run: "click",
        },
        {
            content: "The chart keeps the grouping",
            trigger: `.o_graph_view:has(${grouping("employees_months")}.active) canvas`,
        },
        {
            content: "Chart the calls by the days",
            trigger: grouping("days"),
            run: "click",
        },
        {
            content: "Bars per day, stacked by call type",
            trigger: `.o_graph_view:has(${grouping("days")}.active):has(button[data-tooltip=Stacked].active) canvas`,
        },
    ],
});
