// Part 1 of the in-suite simulation campaign (see timelines.ts).
import { timelineCampaign } from "./timelines.ts";

timelineCampaign(1);
