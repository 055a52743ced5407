import {
    click,
    contains,
    defineMailModels,
    start,
    startServer,
} from "@mail/../tests/mail_test_helpers";
import { describe, expect, test } from "@odoo/hoot";
import { advanceTime, Deferred } from "@odoo/hoot-mock";
import {
    asyncStep,
    defineModels,
    makeServerError,
    MockServer,
    models,
    onRpc,
    patchWithCleanup,
    serverState,
    waitForSteps,
} from "@web/../tests/web_test_helpers";

import { CLOSE_DELAY_MS } from "@clinic_pbx/call_popup/pbx_call_popup_service";

/**
 * The incoming-call pop-ups of a receptionist, driven the way the server
 * drives them: notifications on the user's own bus channel
 * (models/pbx_call_popup.py) and the RPCs of the card's buttons.
 */

class PbxCall extends models.Model {
    _name = "pbx.call";

    pbx_popup_ringing() {
        return [];
    }
}

describe.current.tags("desktop");
defineMailModels();
defineModels([PbxCall]);

const CARD = ".o_pbx_call_card";

/** A ring as `_pbx_popup_ring_payload` sends it. */
function ring(callId, values = {}) {
    return {
        call_id: callId,
        caller: "+7 916 123-45-67",
        phone: "+79161234567",
        extension: "101",
        line: "+7 495 000-00-00",
        start: "2026-03-02 09:00:00",
        expires_in: 300,
        patients: [],
        leads: [],
        ...values,
    };
}

/** Someone took the call (`_pbx_popup_taken_payload`). */
function taken(callId, values = {}) {
    return {
        call_id: callId,
        user_id: serverState.userId + 100,
        user_name: "Boris Petrov",
        extension: "102",
        ...values,
    };
}

/** A notification on the current user's channel, as `_bus_send` sends it. */
function notify(type, payload) {
    const pyEnv = MockServer.env;
    const [partner] = pyEnv["res.partner"].read(serverState.partnerId);
    pyEnv["bus.bus"]._sendone(partner, type, payload);
}

/**
 * The mock server; the first card asks it whether the user may open leads
 * and create patients.
 */
function startPbxServer() {
    onRpc("has_access", () => true);
    return startServer();
}

function stepSounds(env, prefix = "") {
    patchWithCleanup(env.services["mail.sound_effects"], {
        play(name) {
            asyncStep(`${prefix}play ${name}`);
        },
        stop(name) {
            asyncStep(`${prefix}stop ${name}`);
        },
    });
}

test("a call another receptionist takes shows who took it, then closes", async () => {
    await startPbxServer();
    const env = await start();
    stepSounds(env);
    notify("pbx.call/ring", ring(7));
    await contains(`${CARD} .o_pbx_call_card_status`, { text: "Incoming call" });
    expect(`${CARD} .o_pbx_call_card_caller`).toHaveText("+7 916 123-45-67");
    expect(`${CARD} .o_pbx_call_card_take`).toHaveCount(1);
    await waitForSteps(["play incoming-call"]);

    notify("pbx.call/taken", taken(7));
    await contains(`${CARD} .o_pbx_call_card_status`, { text: "Answered by Boris Petrov" });
    expect(`${CARD} .o_pbx_call_card_take`).toHaveCount(0);
    await waitForSteps(["stop incoming-call"]);
    await advanceTime(CLOSE_DELAY_MS / 2);
    expect(CARD).toHaveCount(1);
    await advanceTime(CLOSE_DELAY_MS / 2);
    expect(CARD).toHaveCount(0);
});

test("a call I took stays on screen until I close it", async () => {
    await startPbxServer();
    await start();
    const MINE = `${CARD}[data-call-id="8"]`;
    notify("pbx.call/ring", ring(8, { expires_in: 30 }));
    await contains(CARD);
    notify("pbx.call/taken", taken(8, { user_id: serverState.userId, user_name: "Mitchell" }));
    await contains(`${CARD} .o_pbx_call_card_status`, { text: "You took this call" });
    // Neither the close delay nor the ring's own expiry closes it, and a
    // late "taken" or "missed" of the same call does not change it.
    notify("pbx.call/taken", taken(8));
    notify("pbx.call/missed", { call_id: 8 });
    notify("pbx.call/ring", ring(21, { caller: "+7 903 555-12-34" }));
    await contains(`${CARD} .o_pbx_call_card_caller`, { text: "+7 903 555-12-34" });
    await advanceTime(60_000);
    expect(`${MINE} .o_pbx_call_card_status`).toHaveText("You took this call");

    await click(`${MINE} .o_pbx_call_card_dismiss`);
    await contains(MINE, { count: 0 });
});

test("a ring arriving after the call was taken or missed does not reopen it", async () => {
    await startPbxServer();
    await start();
    // Taken elsewhere: the card closes; the PBX replays the ring.
    notify("pbx.call/ring", ring(9));
    await contains(CARD);
    notify("pbx.call/taken", taken(9));
    await contains(`${CARD} .o_pbx_call_card_status`, { text: "Answered by Boris Petrov" });
    await advanceTime(CLOSE_DELAY_MS);
    expect(CARD).toHaveCount(0);
    // Missed before its ring reached this browser (events out of order).
    notify("pbx.call/missed", { call_id: 10 });
    notify("pbx.call/ring", ring(9));
    notify("pbx.call/ring", ring(10));
    // A call still ringing shows, so the two rings above were received.
    notify("pbx.call/ring", ring(11, { caller: "+7 903 555-12-34" }));
    await contains(`${CARD} .o_pbx_call_card_caller`, { text: "+7 903 555-12-34" });
    expect(CARD).toHaveCount(1);
});

test("a call taken while the ringing calls load does not show when they arrive", async () => {
    const ringing = new Deferred();
    onRpc("pbx.call", "pbx_popup_ringing", () => ringing);
    await startPbxServer();
    await start();
    notify("pbx.call/taken", taken(12));
    notify("pbx.call/ring", ring(13, { caller: "+7 903 555-12-34" }));
    await contains(CARD);
    // The answer to "what rings for me now?" was computed before the call
    // was taken.
    ringing.resolve([
        ring(12),
        ring(13, { caller: "+7 903 555-12-34" }),
        ring(22, { caller: "+7 999 000-00-00" }),
    ]);
    await contains(`${CARD} .o_pbx_call_card_caller`, { text: "+7 999 000-00-00" });
    expect(CARD).toHaveCount(2);
    expect(`${CARD}[data-call-id="12"]`).toHaveCount(0);
});

test("a ring whose end never arrives closes after expires_in", async () => {
    await startPbxServer();
    const env = await start();
    stepSounds(env);
    notify("pbx.call/ring", ring(14, { expires_in: 30 }));
    await contains(CARD);
    await waitForSteps(["play incoming-call"]);
    await advanceTime(29_000);
    expect(CARD).toHaveCount(1);
    await advanceTime(1_000);
    expect(CARD).toHaveCount(0);
    await waitForSteps(["stop incoming-call"]);
});

test("the ringtone plays in the main tab only", async () => {
    await startPbxServer();
    const tab1 = await start({ asTab: true });
    const tab2 = await start({ asTab: true });
    expect(tab1.services.multi_tab.isOnMainTab()).toBe(true);
    expect(tab2.services.multi_tab.isOnMainTab()).toBe(false);
    stepSounds(tab1, "tab 1: ");
    stepSounds(tab2, "tab 2: ");
    notify("pbx.call/ring", ring(15));
    await contains(CARD, { target: tab1 });
    await contains(CARD, { target: tab2 });
    await waitForSteps(["tab 1: play incoming-call"]);
    // Tab 1 closes: it stops ringing, and tab 2 takes over the ringing.
    tab1.services.multi_tab.unregister();
    await waitForSteps(["tab 1: stop incoming-call", "tab 2: play incoming-call"]);
    expect(tab2.services.multi_tab.isOnMainTab()).toBe(true);
});

test("I'll take it: the first to press it keeps the card, the others see who did", async () => {
    onRpc("pbx.call", "action_pbx_take", ({ args }) => {
        const [[callId]] = args;
        return callId === 23
            ? { taken: true, user_id: serverState.userId, user_name: "Mitchell Admin" }
            : { taken: false, user_id: serverState.userId + 100, user_name: "Boris Petrov" };
    });
    await startPbxServer();
    await start();
    const MINE = `${CARD}[data-call-id="23"]`;
    const LOST = `${CARD}[data-call-id="24"]`;
    notify("pbx.call/ring", ring(23));
    notify("pbx.call/ring", ring(24, { caller: "+7 903 555-12-34" }));
    await contains(LOST);
    await click(`${MINE} .o_pbx_call_card_take`);
    await contains(`${MINE} .o_pbx_call_card_status`, { text: "You took this call" });
    await click(`${LOST} .o_pbx_call_card_take`);
    await contains(`${LOST} .o_pbx_call_card_status`, { text: "Answered by Boris Petrov" });
    expect(`${CARD} .o_pbx_call_card_take`).toHaveCount(0);
    await advanceTime(CLOSE_DELAY_MS);
    expect(LOST).toHaveCount(0);
    expect(MINE).toHaveCount(1);
});

test("a failed take closes the card and says why", async () => {
    onRpc("pbx.call", "action_pbx_take", () => {
        throw makeServerError({ type: "UserError", message: "This call has already ended." });
    });
    await startPbxServer();
    await start();
    notify("pbx.call/ring", ring(16));
    await contains(CARD);
    expect.errors(1);
    await click(`${CARD} .o_pbx_call_card_take`);
    await contains(".modal", { text: "This call has already ended." });
    expect(CARD).toHaveCount(0);
    expect.verifyErrors(["This call has already ended."]);
    // Dismissed: a late ring of it stays closed.
    notify("pbx.call/ring", ring(16));
    notify("pbx.call/ring", ring(17, { caller: "+7 903 555-12-34" }));
    await contains(`${CARD} .o_pbx_call_card_caller`, { text: "+7 903 555-12-34" });
    expect(CARD).toHaveCount(1);
});

test("an update shows new patients on a card on screen and opens no card", async () => {
    await startPbxServer();
    await start();
    notify("pbx.call/ring", ring(18));
    await contains(`${CARD} .o_pbx_call_card_unknown`);
    const patient = {
        id: 5,
        name: "Vera Sokolova",
        ref: "P-0042",
        birthdate: false,
        last_call: false,
        last_touch: false,
        leads: [],
    };
    notify("pbx.call/update", ring(18, { patients: [patient] }));
    await contains(`${CARD} .o_pbx_call_card_patient_name`, { text: "Vera Sokolova" });
    expect(`${CARD} .o_pbx_call_card_unknown`).toHaveCount(0);
    // An update of a call that is not on screen (closed, or never rang
    // here) does not open a card.
    notify("pbx.call/update", ring(19, { patients: [patient], caller: "+7 903 555-12-34" }));
    notify("pbx.call/ring", ring(20, { caller: "+7 999 000-00-00" }));
    await contains(`${CARD} .o_pbx_call_card_caller`, { text: "+7 999 000-00-00" });
    expect(CARD).toHaveCount(2);
    expect(`${CARD}[data-call-id="19"]`).toHaveCount(0);
});
