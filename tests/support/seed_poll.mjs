// The design note's pollForResult, verbatim, run against the real service.
// Usage: node seed_poll.mjs RESULT_URL
// Prints one JSON line: every value setCommandOutput held, in order.
const outputs = [];
let commandOutput = "";
function setCommandOutput(value) {
  commandOutput = typeof value === "function" ? value(commandOutput) : value;
  outputs.push(commandOutput);
}
function setIsPolling(polling) {
  if (!polling) {
    console.log(JSON.stringify({ outputs }));
    process.exit(0);
  }
}
// The seed waits 2 s and 5 s between polls; the test environment runs its clock 20 times faster.
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (fn, ms) => realSetTimeout(fn, ms / 20);

// ---- verbatim from seed/async_task_progress_reporting.md, step 3 ----
const pollForResult = async (resultUrl) => {
    try {
        const resultResponse = await fetch(resultUrl, { method: "GET" });
        const resultData = await resultResponse.json();

        // --- NEW: Handle Progress Type ---
        if (resultData && resultData.root.title === "progress") {
            const { percent, description } = resultData.root;
            setCommandOutput(`In Progress: ${percent}% - ${description}`);
            // Poll again after a short delay to get the next update
            setTimeout(() => pollForResult(resultUrl), 2000); // 2-second delay
        }
        // --- End of New Code ---
        else if (resultData && resultData.root.title === "status" && resultData.root.value.includes("PENDING")) {
            setCommandOutput((prev) => prev + " .");
            setTimeout(() => pollForResult(resultUrl), 5000); // 5-second delay
        } else {
            // Task is done, display the final result
            setCommandOutput(JSON.stringify(resultData, null, 2));
            setIsPolling(false);
        }
    } catch (error) {
        setCommandOutput((prev) => prev + `\n Polling Error: ${error.message}`);
        setIsPolling(false);
    }
};
// ---- end of verbatim ----

pollForResult(process.argv[2]);
