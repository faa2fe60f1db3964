"""The public documents the catalog's program facts come from, cited by title and publisher.

A URL is given only where the document's address is stable and known; otherwise the title and publisher are
the citation (find the current edition on the publisher's site). Each program lists the documents behind its
seasons, deadlines and lead times, eligible states and required fields, so a reviewer can check a fact
against its source when a program year changes. Lead times are our configuration, set inside the windows
these documents give.
"""

from __future__ import annotations

# ----- Leap (what the partner API itself says about a program) -----------------------------------------------
LEAP_PROGRAM_IDENTIFIERS = "Leap, Meter Enrollment API (openapi), program_identifier and delivery_period examples"
LEAP_DSGS_REQUIRED_ACTION = (
    "Leap, Meter Enrollment API (openapi), SERV_0005 example: CEC-DSGS needs Battery Energy Capacity, Battery "
    "Power Capacity and Number Of Devices"
)
LEAP_ONBOARDING = "Leap developer docs, Onboarding overview: partner-created vs customer-authorized programs"

# ----- ISO New England / Massachusetts / Rhode Island / Connecticut ------------------------------------------
MA_CPS_REGULATION = "Massachusetts DOER, 225 CMR 21.00: Clean Peak Energy Portfolio Standard"
MA_CPS_GUIDELINE = (
    "Massachusetts DOER, Clean Peak Energy Standard guidelines: Seasonal Peak Periods and qualification of "
    "energy storage and demand response resources"
)
MASS_SAVE_BATTERIES = (
    "Mass Save (Eversource, National Grid, Unitil, Cape Light Compact), ConnectedSolutions battery storage "
    "offer: summer (Jun-Sep) and winter (Dec-Mar) seasons, daily or targeted dispatch, sized on battery kW/kWh"
)
MASS_SAVE_THERMOSTATS = (
    "Mass Save, ConnectedSolutions Wi-Fi thermostat offer: summer season, enrollment through participating "
    "thermostat manufacturers"
)
MA_THREE_YEAR_PLAN = (
    "Massachusetts Program Administrators, 2022-2024 Three-Year Energy Efficiency Plan (DPU 21-120), "
    "Active Demand Reduction offerings"
)
ENERGIZE_CT_CONNECTED_SOLUTIONS = "Energize Connecticut (Eversource CT), ConnectedSolutions demand response"
RIE_CONNECTED_SOLUTIONS = (
    "Rhode Island Energy, ConnectedSolutions battery and thermostat demand response (RI Energy Efficiency Plan)"
)
CT_ESS_PROGRAM = (
    "Connecticut Green Bank, Eversource and UI, Energy Storage Solutions (energystoragect.com), program FAQ and "
    "Active Dispatch enrollment: Eversource or UI electric service accounts in Connecticut, battery at the account's "
    "location, residential and commercial, performance incentives for the summer (June 1 - September 30) and "
    "winter (November 1 - March 31) dispatch seasons"
)
EVERSOURCE_CT_BATTERY_OPTIONS = (
    "Eversource, Connecticut Home Battery Storage Options: two programs for a home battery to choose between, "
    "Energy Storage Solutions or ConnectedSolutions Demand Response; ESS pays per average kW the battery "
    "contributes per event (June-September and November-March)"
)

# ----- ERCOT ---------------------------------------------------------------------------------------------------
ERCOT_PROTOCOLS_ERS = (
    "ERCOT Nodal Protocols Section 3.14.3, Emergency Response Service: Standard Contract Terms Dec-Mar, "
    "Apr-May, Jun-Sep, Oct-Nov (https://www.ercot.com/mktrules/nprotocols/current)"
)
ERCOT_ERS_PROCUREMENT = "ERCOT, Emergency Response Service procurement schedule (offer submission deadlines per term)"
ERCOT_RETAIL_MARKET_GUIDE = "ERCOT Retail Market Guide: ESI ID format (https://www.ercot.com/mktrules/guides/retail)"
ONCOR_CLM = (
    "Oncor, Commercial Load Management Program (Take a Load Off, Texas; CLM Program Manual): commercial facilities "
    "in Oncor's service area with an Oncor interval data recorder or advanced meter, projects of at least 100 kW "
    "through service providers, Oncor verifies reductions from its meter data, summer on-peak June-September and "
    "winter emergency December-February, curtailable load not counted in any other curtailable load or demand "
    "response program"
)

# ----- CAISO / California --------------------------------------------------------------------------------------
CPUC_DRAM = "CPUC, Demand Response Auction Mechanism (D.14-12-024, Resolution E-4728): monthly RA capacity contracts"
CPUC_RESOURCE_ADEQUACY = "CPUC, Resource Adequacy program: monthly RA showings by load-serving entities incl. CCAs"
CAISO_DR_BPM = (
    "CAISO, Business Practice Manual for Metering / Demand Response User Guide (DRRS): a location belongs to one "
    "registration at a time; registrations are reviewed before they take effect"
)
CPUC_ELRP_DECISION = (
    "CPUC, Decision D.21-03-056 (Emergency Load Reduction Program pilot): events May 1 - October 31; "
    "customers in other supply-side demand response programs are not dual-enrolled"
)
PGE_ELRP_SCHEDULE = "PG&E, Electric Schedule E-ELRP, Emergency Load Reduction Program"
CPUC_ELRP_PHASE_II = (
    "CPUC, Decision D.21-12-015 (ELRP Phase II: residential customers and virtual power plant aggregators, "
    "sub-group A.4) and D.23-12-005 (A.4 event window of up to 3 hours), as summarised on the CPUC's Emergency "
    "Load Reduction Program page: run by PG&E, SCE and SDG&E, May-October"
)
ELRP_A4_UTILITY_PAGES = (
    "SCE, ELRP Aggregator / DRP FAQ (virtual power plant aggregations of residential customers measured on "
    "sub-metered data) and SDG&E, Emergency Load Reduction Program A4 (batteries enrolled through their "
    "manufacturer, events May through October)"
)
CEC_DSGS_ELIGIBILITY = (
    "California Energy Commission, DSGS Provider Applications: a participant is not eligible while receiving "
    "payment or accounting for the same reduction in use of electricity through any other utility or state program"
)
PGE_ART = (
    "PG&E, Automated Response Technology program: residential customers' registered smart technologies "
    "(thermostats, EV chargers, ...) enrolled through ART providers, events at any time of year, up to 6 hours "
    "a day, during which the consumption the registered technology controls decreases"
)

CEC_DSGS_GUIDELINES = (
    "California Energy Commission, Demand Side Grid Support (DSGS) Program Guidelines, Option 3 market-aware "
    "storage virtual power plant: California customers' batteries, May-October event season, device-level data"
)
PGE_CBP_SCHEDULE = (
    "PG&E, Electric Schedule E-CBP, Capacity Bidding Program: non-residential customers through aggregators, "
    "monthly nominations for the May-October operating months"
)

# ----- PJM -------------------------------------------------------------------------------------------------------
PJM_MANUAL_18 = "PJM, Manual 18: PJM Capacity Market (Delivery Year June 1 - May 31; Demand Resources)"
PJM_MANUAL_11 = "PJM, Manual 11: Energy & Ancillary Services Market Operations, Demand Resource registration"

# ----- NYISO / New York ----------------------------------------------------------------------------------------
NYISO_ICAP_MANUAL = (
    "NYISO, Installed Capacity Manual (Manual 4), Special Case Resources: Summer (May-Oct) and Winter (Nov-Apr) "
    "Capability Periods, CBL verification"
)
NYISO_ICAP_CALENDAR = "NYISO, ICAP Event Calendar: SCR enrollment deadlines per Capability Period"
CONED_RIDER_T = (
    "Con Edison, P.S.C. No. 10 Electricity tariff, Rider T (Commercial System Relief and Distribution Load "
    "Relief Programs): May 1 - September 30 capability period, enrollment by April 1, dual participation with "
    "NYISO programs allowed"
)
PSEGLI_DR_TARIFF = (
    "PSEG Long Island, Tariff for Electric Service: Commercial System Relief Program and Distribution Load Relief "
    "Program (May-September capability period)"
)
