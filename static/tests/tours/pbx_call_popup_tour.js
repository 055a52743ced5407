import { registry } from "@web/core/registry";

/**
 * A receptionist on extension 101 works in Contacts while the PBX (played by
 * the steps below through the real event API, with the token the test puts in
 * `window.clinicPbxTour`) rings her desk. Run by tests/test_call_popup_tour.py.
 */

// A patient whose name is HTML (typed into a contact form, or brought by a
// tracker): the card must show it as text. tests/test_call_popup_tour.py
// creates her with this number.
const HTML_NAME = "<img src=x onerror=alert(1)>";
const HTML_NAMED_CALLER = "+7 916 555-00-99";

async function postEvents(events) {
    const { token } = window.clinicPbxTour;
    const response = await fetch("/pbx/v1/events", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({ events }),
    });
    if (!response.ok) {
        throw new Error(`the event API answered ${response.status}: ${await response.text()}`);
    }
}

function now() {
    return new Date().toISOString();
}

function ringing(callId, caller, extra = {}) {
    return {
        type: "ringing",
        call_id: callId,
        time: now(),
        direction: "incoming",
        from: caller,
        to: "+7 495 123-45-00",
        extension: "101",
        ...extra,
    };
}

function popupService() {
    return odoo.__WOWL_DEBUG__.root.env.services["clinic_pbx.call_popup"];
}

function cardOf(text) {
    return [...document.querySelectorAll(".o_pbx_call_card")].find((card) =>
        card.textContent.includes(text)
    );
}

registry.category("web_tour.tours").add("clinic_pbx_call_popup_tour", {
    url: "/odoo/contacts",
    steps: () => [
        {
            content: "Contacts is open, outside the PBX app",
            trigger: ".o_breadcrumb:contains(Contacts)",
            run() {
                window.clinicPbxTour.alerted = false;
                window.alert = () => {
                    window.clinicPbxTour.alerted = true;
                };
            },
        },
        {
            content: "The PBX rings the reception desk with a patient's number",
            trigger: ".o_kanban_view",
            run: () =>
                postEvents([
                    ringing("tour-known", "8 (916) 123-45-67", { rang_extensions: ["101", "102"] }),
                ]),
        },
        {
            content: "The card shows the patient, and this tab (the only one) rings",
            trigger: ".o_pbx_call_card_ringing .o_pbx_call_card_patient_name:contains(Vera Sokolova)",
            run() {
                const popups = popupService();
                if (!popups.multiTab.isOnMainTab() || !popups.playing) {
                    throw new Error("the main tab does not ring");
                }
            },
        },
        {
            content: "…with her reference, and the number as the PBX gave it",
            trigger: ".o_pbx_call_card_ringing:contains(P-0042)",
            run() {
                const caller = cardOf("Vera Sokolova").querySelector(".o_pbx_call_card_caller");
                if (caller.textContent.trim() !== "8 (916) 123-45-67") {
                    throw new Error(`caller shown as "${caller.textContent}"`);
                }
            },
        },
        {
            content: "…and her open lead, which she may open",
            trigger: ".o_pbx_call_card_ringing .o_pbx_call_card_open_lead:contains(Dental check-up)",
        },
        {
            content: "A second call rings, from a patient whose name is HTML",
            trigger: ".o_pbx_call_card_ringing",
            run: () => postEvents([ringing("tour-html", HTML_NAMED_CALLER)]),
        },
        {
            content: "The cards stack and the patient's name shows as text",
            trigger: ".o_pbx_call_card:contains(555-00-99)",
            run() {
                const cards = document.querySelectorAll(".o_pbx_call_card");
                if (cards.length !== 2) {
                    throw new Error(`expected 2 stacked cards, found ${cards.length}`);
                }
                const name = cardOf("555-00-99").querySelector(".o_pbx_call_card_patient_name");
                if (name.textContent.trim() !== HTML_NAME) {
                    throw new Error(`the patient's name rendered as "${name.textContent}"`);
                }
                if (document.querySelector(".o_pbx_call_popups img")) {
                    throw new Error("the patient's HTML name became an element");
                }
                if (window.clinicPbxTour.alerted) {
                    throw new Error("the patient's HTML name ran a script");
                }
            },
        },
        {
            content: "Boris answers the first call on his extension",
            trigger: ".o_pbx_call_card:contains(Vera Sokolova)",
            run: () =>
                postEvents([
                    { type: "answered", call_id: "tour-known", time: now(), extension: "102" },
                ]),
        },
        {
            content: "The card says who answered",
            trigger: ".o_pbx_call_card_taken:contains(Answered by Boris Tourov)",
        },
        {
            content: "…and closes after a moment",
            trigger: "body:not(:has(.o_pbx_call_card:contains(Vera Sokolova)))",
        },
        {
            content: "The second caller hangs up before anyone answers",
            trigger: ".o_pbx_call_card:contains(555-00-99)",
            run: () =>
                postEvents([
                    {
                        type: "hangup",
                        call_id: "tour-html",
                        time: now(),
                        disposition: "no_answer",
                        talk_seconds: 0,
                        wait_seconds: 9,
                    },
                ]),
        },
        {
            content: "The card closes as missed",
            trigger: ".o_pbx_call_card_missed:contains(Missed call)",
        },
        {
            content: "No card is left, and the ringing stopped",
            trigger: "body:not(:has(.o_pbx_call_card))",
            run() {
                if (popupService().playing) {
                    throw new Error("still ringing without a ringing card");
                }
            },
        },
        {
            content: "A third call rings",
            trigger: "body",
            run: () => postEvents([ringing("tour-take", "+7 916 123 45 67")]),
        },
        {
            content: "Anna takes it",
            trigger: ".o_pbx_call_card_ringing .o_pbx_call_card_take",
            run: "click",
        },
        {
            content: "Her card says so and keeps the patient's actions",
            trigger: ".o_pbx_call_card_mine:contains(You took this call)",
        },
        {
            content: "She opens the patient",
            trigger: ".o_pbx_call_card_mine .o_pbx_call_card_open_patient",
            run: "click",
        },
        {
            content: "The patient's form opens",
            trigger: ".o_form_view .o_breadcrumb:contains(Vera Sokolova)",
        },
        {
            content: "She closes the card",
            trigger: ".o_pbx_call_card_mine .o_pbx_call_card_dismiss",
            run: "click",
        },
        {
            content: "The screen is clear",
            trigger: "body:not(:has(.o_pbx_call_card))",
        },
        {
            content: "A caller nobody knows yet rings",
            trigger: "body",
            run: () => postEvents([ringing("tour-new", "+7 999 555-44-33")]),
        },
        {
            content: "Anna takes it",
            trigger: ".o_pbx_call_card_ringing:contains(Unknown number) .o_pbx_call_card_take",
            run: "click",
        },
        {
            content: "She creates the patient from the card",
            trigger: ".o_pbx_call_card_mine:contains(Unknown number) .o_pbx_call_card_create_patient",
            run: "click",
        },
        {
            content: "The new contact has the caller's number",
            trigger: ".o_form_view .o_field_widget[name=phone] input",
            run() {
                const phone = document.querySelector(".o_form_view .o_field_widget[name=phone] input");
                if (phone.value.replace(/\D/g, "") !== "79995554433") {
                    throw new Error(`the new contact's phone is "${phone.value}"`);
                }
            },
        },
        {
            content: "She types the patient's name",
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: "edit Nina Novikova",
        },
        {
            content: "…and saves",
            trigger: ".o_form_view .o_form_button_save",
            run: "click",
        },
        {
            content: "Her card now shows the patient",
            trigger: ".o_pbx_call_card_mine .o_pbx_call_card_patient_name:contains(Nina Novikova)",
            run() {
                if (cardOf("Nina Novikova").textContent.includes("Unknown number")) {
                    throw new Error("the card still says Unknown number");
                }
            },
        },
        {
            content: "She closes the card",
            trigger: ".o_pbx_call_card_mine .o_pbx_call_card_dismiss",
            run: "click",
        },
        {
            content: "The screen is clear again",
            trigger: "body:not(:has(.o_pbx_call_card))",
        },
    ],
});
