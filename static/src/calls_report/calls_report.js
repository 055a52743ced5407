import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { cartesian, sections } from "@web/core/utils/arrays";
import { getGroupBy } from "@web/search/utils/group_by";
import { GraphModel } from "@web/views/graph/graph_model";
import { GraphRenderer } from "@web/views/graph/graph_renderer";
import { graphView } from "@web/views/graph/graph_view";
import { PivotModel } from "@web/views/pivot/pivot_model";
import { PivotRenderer } from "@web/views/pivot/pivot_renderer";
import { pivotView } from "@web/views/pivot/pivot_view";
import { session } from "@web/session";

/**
 * The report's groupings. Each names the search view's group-by filters it
 * turns on, in order, so the search bar shows them and favourites keep them.
 */
export const CALLS_REPORT_GROUPINGS = [
    { id: "days", label: _t("By the Days"), filters: [["groupby_day", "day"]] },
    { id: "hours", label: _t("By the Hours"), filters: [["groupby_hour"]] },
    {
        id: "employees_days",
        label: _t("By the Employees and Days"),
        filters: [["groupby_admin"], ["groupby_day", "day"]],
    },
    {
        id: "employees_months",
        label: _t("By the Employees and Months"),
        filters: [["groupby_admin"], ["groupby_month", "month"]],
    },
];

function searchItem(searchModel, name) {
    return Object.values(searchModel.searchItems).find((item) => item.name === name);
}

function specsOf(searchModel, grouping) {
    return grouping.filters.map(([name, interval]) => {
        const { fieldName } = searchItem(searchModel, name);
        return interval ? `${fieldName}:${interval}` : fieldName;
    });
}

export class CallsReportGroupings extends Component {
    static template = "clinic_pbx.CallsReportGroupings";
    static props = {};

    get groupings() {
        return CALLS_REPORT_GROUPINGS;
    }

    get activeId() {
        const searchModel = this.env.searchModel;
        const current = JSON.stringify(searchModel.groupBy);
        if (current === "[]") {
            return "days";
        }
        const grouping = this.groupings.find(
            (g) => JSON.stringify(specsOf(searchModel, g)) === current
        );
        return grouping && grouping.id;
    }

    select(grouping) {
        const searchModel = this.env.searchModel;
        const isGroupBy = (queryElem) =>
            ["groupBy", "dateGroupBy"].includes(searchModel.searchItems[queryElem.searchItemId].type);
        searchModel.query = searchModel.query.filter((queryElem) => !isGroupBy(queryElem));
        for (const [name, interval] of grouping.filters) {
            const item = searchItem(searchModel, name);
            searchModel.query.push(
                interval ? { searchItemId: item.id, intervalId: interval } : { searchItemId: item.id }
            );
        }
        searchModel._notify();
    }
}

export class CallsReportPivotRenderer extends PivotRenderer {
    static components = { ...PivotRenderer.components, CallsReportGroupings };
}

export class CallsReportGraphRenderer extends GraphRenderer {
    static components = { ...GraphRenderer.components, CallsReportGroupings };
}

/**
 * The table asks for every row grouping by every column grouping, the total
 * first. The total's request asks for all of them at once, and the server
 * reads the calls once (pbx.call.read_group_batch); the later asks of the
 * same load are answered from it. Requests made together (expanding a
 * header) are batched the same way. With the server's switch off
 * (clinic_pbx.report_batch, told in the session info) it loads as Odoo's
 * stock pivot does.
 */
export class CallsReportPivotModel extends PivotModel {
    setup() {
        super.setup(...arguments);
        this.pbxBatches = new WeakMap();
        this.pbxPrefetched = new Map();
        this.pbxLoading = null;
    }

    _loadData(config) {
        this.pbxLoading = config.metaData;
        this.pbxPrefetched = new Map();
        const result = super._loadData(...arguments);
        this.pbxLoading = null;
        return result;
    }

    _getSubGroups(groupBy, params) {
        if (this.orm.isSample || !session.clinic_pbx_report_batch) {
            // The sample data of an empty report come from Odoo's sample
            // server; with the batch switched off, stock loading.
            return super._getSubGroups(groupBy, params);
        }
        const { resModel, groupDomain, measureSpecs, kwargs, mapping } = params;
        const key = JSON.stringify(groupBy);
        if (mapping[key]) {
            return mapping[key];
        }
        const batchKey = JSON.stringify([groupDomain, measureSpecs]);
        let batch = this.pbxPrefetched.get(batchKey);
        if (!batch || !(key in batch.index)) {
            batch = this.pbxBatches.get(mapping);
        }
        if (!batch) {
            batch = { groupBys: [], index: {} };
            batch.promise = Promise.resolve().then(() =>
                this.orm.call(
                    resModel,
                    "read_group_batch",
                    [groupDomain, measureSpecs, batch.groupBys],
                    { context: kwargs.context }
                )
            );
            this.pbxBatches.set(mapping, batch);
            if (!groupBy.length && this.pbxLoading) {
                const { fullRowGroupBys, fullColGroupBys } = this.pbxLoading;
                const divisors = cartesian(sections(fullRowGroupBys), sections(fullColGroupBys));
                for (const [rowGroupBy, colGroupBy] of divisors) {
                    this._pbxAdd(batch, this._getGroupBySpecs(rowGroupBy, colGroupBy));
                }
                this.pbxPrefetched.set(batchKey, batch);
            }
        }
        this._pbxAdd(batch, groupBy);
        mapping[key] = batch.promise.then((results) => results[batch.index[key]]);
        return mapping[key];
    }

    _pbxAdd(batch, groupBy) {
        const key = JSON.stringify(groupBy);
        if (!(key in batch.index)) {
            batch.index[key] = batch.groupBys.push(groupBy) - 1;
        }
    }
}

/** With a single grouping, the chart is also split by call type (the bars
 * stack by type, a line chart has a line per type, a pie a slice per
 * grouping and type). */
export class CallsReportGraphModel extends GraphModel {
    _buildMetaData(params) {
        const metaData = super._buildMetaData(params);
        const groupBy = metaData.groupBy;
        if (groupBy.length === 1 && groupBy[0].fieldName !== "direction") {
            metaData.groupBy = [...groupBy, getGroupBy("direction", metaData.fields)];
        }
        return metaData;
    }
}

registry.category("views").add("pbx_calls_report_pivot", {
    ...pivotView,
    Model: CallsReportPivotModel,
    Renderer: CallsReportPivotRenderer,
    buttonTemplate: "clinic_pbx.CallsReportPivotButtons",
});

registry.category("views").add("pbx_calls_report_graph", {
    ...graphView,
    Model: CallsReportGraphModel,
    Renderer: CallsReportGraphRenderer,
    buttonTemplate: "clinic_pbx.CallsReportGraphButtons",
});
